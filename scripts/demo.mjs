#!/usr/bin/env node
// The local demo: a Corral server on the embedded SQLite store plus three
// local agents with different labels (trusted: each group of agents enrolls
// with its own token bound to its labels), and a sample package published in
// three versions (two good, one that crashes) to try a staged rollout and a
// rollback. Data lives in ./demo-data (or $CORRAL_DEMO_DIR); run it again and
// it picks up where it left off. The server listens on 127.0.0.1:4320 (or
// $CORRAL_DEMO_LISTEN). Ctrl-C stops everything.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(process.env.CORRAL_DEMO_DIR ?? 'demo-data');
const listen = process.env.CORRAL_DEMO_LISTEN ?? '127.0.0.1:4320';
const bin = fileURLToPath(new URL('../dist/bin/corral.js', import.meta.url));
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
const { AGENT_NODE_FLAGS } = await import(new URL('../dist/agent/node-flags.js', import.meta.url).href);

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

/**
 * Pids (other than this one) whose command line names the demo's data dir:
 * the server, the agents, agents a self-upgrade started (the upgrade watcher
 * starts them, detached: they are not our children) and upgrade watchers.
 */
function demoPids() {
  const pids = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.some((arg) => arg === root || arg.startsWith(root + sep))) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const signal = (pid, sig) => {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
};

/** SIGTERM to each target (a pid, or a process group as -pgid), up to graceMs for them to go, then SIGKILL. */
async function terminate(targets, graceMs) {
  for (const t of targets) signal(t, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (targets.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const t of targets.filter(alive)) signal(t, 'SIGKILL');
}

/** The process groups of the services the demo's agents run (each agent records them in services/<name>/pid.json). */
function servicePids() {
  const pids = [];
  for (const agent of readdirSync(root)) {
    const services = join(root, agent, 'services');
    if (!existsSync(services)) continue;
    for (const name of readdirSync(services)) {
      try {
        const saved = JSON.parse(readFileSync(join(services, name, 'pid.json'), 'utf8'));
        // The kernel's start time (field 22 of /proc/<pid>/stat) tells a recycled pid from the service.
        const stat = readFileSync(`/proc/${saved.pid}/stat`, 'utf8');
        if (stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] === saved.startTicks) pids.push(saved.pid);
      } catch {
        // No pid file, or that process is gone.
      }
    }
  }
  return pids;
}

/**
 * Stops everything the demo started, in an order where nothing restarts
 * what was just stopped: upgrade watchers (they restart an agent that
 * exits), then agents (they restart crashed services; stopping an agent
 * leaves its services running by design), then the services' process
 * groups, then the server.
 */
async function stopAll() {
  if (stopping) return;
  stopping = true;
  console.log('\nStopping the demo: agents, their services, the server...');
  const force = setTimeout(() => process.exit(1), 30_000);
  force.unref();
  const server = children[0]?.pid;
  const isWatcher = (pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('--handover');
    } catch {
      return false;
    }
  };
  await terminate(demoPids().filter(isWatcher), 5000);
  await terminate(demoPids().filter((pid) => pid !== server), 10_000);
  await terminate(servicePids().map((pid) => -pid), 10_000);
  await terminate(demoPids(), 10_000);
  process.exit(0);
}
process.on('SIGINT', () => void stopAll());
process.on('SIGTERM', () => void stopAll());
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
  const consoleUrl = /Web console: (http:\/\/\S+)/.exec(out)?.[1] ?? null;
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
Corral demo is running (Ctrl-C stops it all: server, agents, also upgraded ones, and their services).
  web console:       ${consoleUrl ?? '(not built: run npm run build:console)'}   (sign in with the admin token below)
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
  npx corral rollout status hello -w          # live progress; returns (exit code 5) when it waits for you
  npx corral rollout promote hello && npx corral rollout status hello -w

Break it on purpose and watch it roll back by itself:
  npx corral deploy hello --package hello@2.0.0 -s 'role in (web,api)' --set greeting=oops --canary 1
  npx corral rollout status hello -w          # exit code 1: the change failed, and says it was rolled back
  npx corral rollout list hello
  npx corral deployment status hello
`);
});
