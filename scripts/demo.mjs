#!/usr/bin/env node
// The local demo: a Corral server on the embedded SQLite store plus three
// local agents with different labels. Data lives in ./demo-data; run it
// again and it picks up where it left off. Ctrl-C stops everything.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = resolve('demo-data');
const listen = process.env.CORRAL_DEMO_LISTEN ?? '127.0.0.1:4320';
const bin = resolve('dist/bin/corral.js');
if (!existsSync(bin)) {
  console.error('dist/bin/corral.js is missing: run `npm ci` (or `npm run build`) first');
  process.exit(1);
}
mkdirSync(root, { recursive: true });

// The demo chooses its tokens on first start so it can show them on every run.
const tokensFile = join(root, 'demo-tokens.json');
if (!existsSync(tokensFile)) {
  const secret = (kind) => `corral_${kind}_${randomBytes(32).toString('base64url')}`;
  writeFileSync(tokensFile, JSON.stringify({ admin: secret('admin'), enrollment: secret('enroll') }, null, 2), { mode: 0o600 });
}
const tokens = JSON.parse(readFileSync(tokensFile, 'utf8'));

// Agents run with the node flags every supported way of starting one uses (src/agent/node-flags.ts).
const { AGENT_NODE_FLAGS } = await import(pathToFileURL(resolve('dist/agent/node-flags.js')).href);

const children = [];
function start(name, args, env = {}, nodeArgs = []) {
  const child = spawn(process.execPath, [...nodeArgs, bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.push(child);
  const prefix = `[${name}] `;
  const pipe = (stream, out) => stream.on('data', (d) => out.write(d.toString().replace(/^(?=.)/gm, prefix)));
  pipe(child.stdout, process.stdout);
  pipe(child.stderr, process.stderr);
  child.on('exit', (code, signal) => {
    if (!stopping) console.error(`${prefix}exited (${code ?? signal})`);
  });
  return child;
}

let stopping = false;
function stopAll() {
  if (stopping) return;
  stopping = true;
  for (const c of children) c.kill('SIGTERM');
  setTimeout(() => process.exit(0), 3000).unref();
}
process.on('SIGINT', stopAll);
process.on('SIGTERM', stopAll);

const server = start('server', ['server', '--listen', listen, '--data-dir', join(root, 'server'), '--log-level', 'warn'], {
  CORRAL_ADMIN_TOKEN: tokens.admin,
  CORRAL_ENROLLMENT_TOKEN: tokens.enrollment,
});
let out = '';
server.stdout.on('data', (d) => {
  out += d.toString();
  const m = /listening on (http:\/\/\S+)/.exec(out);
  if (!m || children.length > 1) return;
  const url = m[1];
  const agents = [
    ['web-1', ['env=dev', 'role=web']],
    ['web-2', ['env=prod', 'role=web', 'cluster=a']],
    ['api-1', ['env=prod', 'role=api', 'cluster=b']],
  ];
  for (const [name, labels] of agents) {
    start(name, ['agent', '--server', url, '--token', tokens.enrollment, '--data-dir', join(root, name), '--name', name, '--log-level', 'warn', ...labels.flatMap((l) => ['--label', l])], {}, AGENT_NODE_FLAGS);
  }
  console.log(`
Corral demo is running (Ctrl-C stops it).
  server / API:      ${url}   (OpenAPI: ${url}/api/v1/openapi.json, metrics: ${url}/metrics)
  admin token:       ${tokens.admin}
  enrollment token:  ${tokens.enrollment}
  agents:            web-1 (env=dev,role=web), web-2 (env=prod,role=web,cluster=a), api-1 (env=prod,role=api,cluster=b)

In another terminal:
  export CORRAL_SERVER=${url} CORRAL_TOKEN=${tokens.admin}
  npx corral agents
  npx corral agents -s 'env=prod,role in (web,api)'
`);
});
