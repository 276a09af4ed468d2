#!/usr/bin/env node
// The local demo: a Corral server on the embedded SQLite store plus three
// local agents with different labels (trusted: each group of agents enrolls
// with its own token bound to its labels), and a sample package published in
// three versions (two good, one that crashes) to try a staged rollout and a
// rollback. Data lives in ./demo-data; run it again and it picks up where it
// left off. Ctrl-C stops everything.
import { execFileSync, spawn } from 'node:child_process';
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

/** Builds and pushes the sample package `hello` in a version (already published versions are left alone). */
function publishSample(url, version, crash) {
  const dir = join(root, 'packages', `hello-${version}`);
  mkdirSync(join(dir, 'bin'), { recursive: true });
  const script = crash
    ? 'echo "hello 2.0.0: cannot start" >&2; exit 3'
    : 'while true; do echo "hello ' + version + ' says {{ greeting }} at $(date +%T)"; sleep 5; done';
  writeFileSync(join(dir, 'bin', 'hello.sh.tmpl'), `#!/bin/sh\n${script}\n`);
  writeFileSync(
    join(dir, 'corral.yaml'),
    `apiVersion: corral.io/v1\nname: hello\nversion: ${version}\nplatforms: [{os: linux, arch: any}]\n` +
      `run: {command: sh, args: [hello.sh]}\nrestart: {policy: always, maxDelayMs: 2000}\n` +
      `config:\n  files: [{path: hello.sh, template: bin/hello.sh.tmpl}]\n`,
  );
  const env = { ...process.env, CORRAL_SERVER: url, CORRAL_TOKEN: tokens.admin };
  const out = join(root, 'packages', `hello-${version}.tar.gz`);
  execFileSync(process.execPath, [bin, 'package', 'build', dir, '--out', out], { env, stdio: 'ignore' });
  try {
    execFileSync(process.execPath, [bin, 'package', 'push', out], { env, stdio: 'pipe' });
  } catch (e) {
    if (!/already|conflict/i.test(String(e.stderr ?? ''))) throw e;
  }
}

/**
 * The enrollment token of one agent group: bound to the group's labels, so
 * they are trusted labels (what an agent reports about itself never is).
 * Created once and kept with the demo's other tokens (a secret is shown only once).
 */
function groupToken(url, labels) {
  const key = labels.join(',');
  tokens.groups ??= {};
  if (!tokens.groups[key]) {
    const env = { ...process.env, CORRAL_SERVER: url, CORRAL_TOKEN: tokens.admin };
    const args = [bin, 'token', 'create', '--name', `demo ${key}`, ...labels.flatMap((l) => ['--label', l]), '-o', 'json'];
    tokens.groups[key] = JSON.parse(execFileSync(process.execPath, args, { env, encoding: 'utf8' })).token;
    writeFileSync(tokensFile, JSON.stringify(tokens, null, 2), { mode: 0o600 });
  }
  return tokens.groups[key];
}

const server = start('server', ['server', '--listen', listen, '--data-dir', join(root, 'server'), '--log-level', 'warn', '--rollout-defaults', '{"minHealthySeconds":5}'], {
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
    start(name, ['agent', '--server', url, '--token', groupToken(url, labels), '--data-dir', join(root, name), '--name', name, '--log-level', 'warn'], {}, AGENT_NODE_FLAGS);
  }
  for (const [version, crash] of [['1.0.0', false], ['1.1.0', false], ['2.0.0', true]]) publishSample(url, version, crash);
  console.log(`
Corral demo is running (Ctrl-C stops it).
  server / API:      ${url}   (OpenAPI: ${url}/api/v1/openapi.json, metrics: ${url}/metrics)
  admin token:       ${tokens.admin}
  enrollment token:  ${tokens.enrollment}   (binds no labels)
  agents:            web-1 (env=dev,role=web), web-2 (env=prod,role=web,cluster=a), api-1 (env=prod,role=api,cluster=b)
                     each enrolled with a token bound to its labels (corral token list)

  package:           hello 1.0.0, 1.1.0 (good) and 2.0.0 (crashes at start), published

In another terminal:
  export CORRAL_SERVER=${url} CORRAL_TOKEN=${tokens.admin}
  npx corral agents
  npx corral deploy hello --package hello@1.0.0 -s 'role in (web,api)' --set greeting=hi --max-in-flight 100%
  npx corral rollout status hello -w

A staged change: one canary, then two batches, waiting for you after the canary:
  npx corral deploy hello --package hello@1.1.0 -s 'role in (web,api)' --set greeting=hello --canary 1 --manual-promote --batches 2 --max-in-flight 1
  npx corral rollout status hello -w          # (another terminal) live progress
  npx corral rollout promote hello

Break it on purpose and watch it roll back by itself:
  npx corral deploy hello --package hello@2.0.0 -s 'role in (web,api)' --set greeting=oops --canary 1
  npx corral rollout status hello -w; npx corral rollout list hello
  npx corral deployment status hello
`);
});
