/**
 * The npm package, end to end: `npm pack` (its prepack builds dist/ from a
 * copy of this checkout's sources, so the checkout's own dist/ is left alone
 * for the tests running beside this one), the tarball's contents, then
 * `npm install -g --prefix <empty dir>` from the registry (better-sqlite3
 * compiles from source: minutes on a loaded machine), and finally the
 * installed `corral` alone: with PATH holding only the prefix's bin and
 * node's dir, and the working directory outside the checkout, it runs a
 * server and an agent, the agent enrolls, and a package built and pushed by
 * the installed CLI is deployed to it and runs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { builtinModules } from 'node:module';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tar from 'tar';
import { eventually } from '../../src/testkit/eventually.js';
import { servicePid } from '../../src/testkit/process-alive.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const PKG = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  files: string[];
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  private?: boolean;
};
/** What `npm pack` needs beside the package's `files`: the build's inputs. */
const BUILD_INPUTS = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'scripts', 'console', 'assets'];
const MINUTE = 60_000;

/** Runs a command to completion with a deadline; never throws for a non-zero exit. */
function run(
  command: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr: code === null ? `${stderr}\n(killed after ${opts.timeoutMs} ms)` : stderr });
    });
  });
}

/** This environment without npm's per-script variables, and with nothing of the checkout on PATH. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_/i.test(k) && !k.startsWith('CORRAL_') && k !== 'INIT_CWD') env[k] = v;
  }
  env.PATH = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((p) => p && !(p + sep).startsWith(REPO))
    .join(delimiter);
  return env;
}

/** Bare module specifiers a built file imports (static, dynamic and re-exports). */
function bareImports(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]([^'"]+)['"]/g)) {
    const spec = m[1]!;
    if (spec.startsWith('.') || spec.startsWith('/')) continue;
    out.push(spec);
  }
  return out;
}

function packageOf(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

describe('the npm package', { concurrency: false, timeout: 75 * MINUTE }, () => {
  let root: string;
  let tgz: string;
  let prefix: string;
  let installed: string;
  let runDir: string;
  const children: ChildProcess[] = [];
  let agentData = '';

  /** The installed `corral`, found through PATH = <prefix>/bin and node's dir only. */
  const corralEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    PATH: [join(prefix, 'bin'), dirname(process.execPath)].join(delimiter),
    HOME: join(root, 'home'),
    XDG_CONFIG_HOME: join(root, 'home', '.config'),
    LANG: 'C.UTF-8',
    ...extra,
  });
  const corral = (args: string[], extra: Record<string, string> = {}, timeoutMs = 2 * MINUTE) =>
    run('corral', args, { cwd: runDir, env: corralEnv(extra), timeoutMs });
  const startCorral = (args: string[], extra: Record<string, string> = {}) => {
    const child = spawn('corral', args, { cwd: runDir, env: corralEnv(extra), stdio: ['ignore', 'pipe', 'pipe'] });
    const proc = { child, stdout: '', stderr: '' };
    child.stdout!.on('data', (d: Buffer) => (proc.stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (proc.stderr += d.toString()));
    children.push(child);
    return proc;
  };

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'corral-npm-package-'));
    prefix = join(root, 'prefix');
    runDir = join(root, 'run');
    mkdirSync(runDir);
    mkdirSync(join(root, 'home'));
    mkdirSync(join(root, 'pack'));
  });

  after(async () => {
    const pid = agentData ? servicePid(agentData, 'hello') : null;
    if (pid) process.kill(pid, 'SIGKILL');
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });

  it('packs the built dist/, docs, README and LICENSE: no sources, tests, source maps or private flag', async () => {
    // A copy of the sources, so prepack's clean build does not pull dist/ from under other tests.
    const src = join(root, 'src');
    const wanted = new Set([...BUILD_INPUTS, ...PKG.files.filter((f) => !f.startsWith('!')).map((f) => f.replace(/\/$/, ''))]);
    wanted.delete('dist');
    for (const entry of wanted) {
      if (existsSync(join(REPO, entry))) cpSync(join(REPO, entry), join(src, entry), { recursive: true });
    }
    symlinkSync(join(REPO, 'node_modules'), join(src, 'node_modules'));
    const packed = await run('npm', ['pack', '--pack-destination', join(root, 'pack')], { cwd: src, env: cleanEnv(), timeoutMs: 15 * MINUTE });
    assert.equal(packed.code, 0, `npm pack failed:\n${packed.stdout.slice(-3000)}\n${packed.stderr.slice(-3000)}`);
    const names = readdirSync(join(root, 'pack'));
    assert.deepEqual(names, [`${PKG.name}-${PKG.version}.tgz`]);
    tgz = join(root, 'pack', names[0]!);

    const entries: string[] = [];
    let packageJson = '';
    await tar.t({
      file: tgz,
      onReadEntry: (e) => {
        entries.push(e.path);
        if (e.path === 'package/package.json') e.on('data', (d: Buffer) => (packageJson += d.toString()));
      },
    });
    for (const must of ['package/dist/bin/corral.js', 'package/dist/server/index.js', 'package/dist/agent/index.js', 'package/README.md', 'package/LICENSE', 'package/docs/corral.schema.json', 'package/assets/install.sh', 'package/dist/console/index.html']) {
      assert.ok(entries.includes(must), `${must} is in the package`);
    }
    const unwanted = entries.filter((p) => /\.map$|\.ts$|\.test\.js$|^package\/(src|test|scripts|bench|node_modules)\/|\/testkit\//.test(p));
    assert.deepEqual(unwanted, [], 'no sources, tests, test helpers, build scripts or source maps');
    const pj = JSON.parse(packageJson) as typeof PKG;
    assert.equal(pj.private, undefined, 'publishable');
    assert.equal(pj.bin.corral, 'dist/bin/corral.js');
  });

  it('installs globally into an empty prefix, with only runtime dependencies and no build of its own', async () => {
    assert.ok(tgz, 'packed by the previous test');
    // better-sqlite3 compiles from source (node-gyp, on every core: JOBS=max). npm's own cache
    // (not a fresh one) saves downloading every dependency again; --prefer-offline skips
    // re-checking metadata it has. On a busy 2-core machine this step has taken 25 minutes.
    const env = { ...cleanEnv(), JOBS: 'max' };
    const r = await run('npm', ['install', '-g', '--prefix', prefix, '--allow-scripts=better-sqlite3', '--prefer-offline', '--no-audit', '--no-fund', tgz], {
      cwd: runDir,
      env,
      timeoutMs: 45 * MINUTE,
    });
    assert.equal(r.code, 0, `npm install -g failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
    installed = join(prefix, 'lib', 'node_modules', PKG.name);
    assert.ok(existsSync(join(installed, 'dist', 'bin', 'corral.js')));
    assert.equal(existsSync(join(installed, 'src')), false);
    // Dev dependencies stay out.
    for (const dev of ['typescript', 'tsx', 'eslint', 'fast-check', '@types/node']) {
      assert.equal(existsSync(join(installed, 'node_modules', dev)), false, `${dev} (a dev dependency) is not installed`);
    }
    // Every package the built code imports is a runtime dependency (or built into node).
    const builtins = new Set(builtinModules);
    const missing = new Set<string>();
    for (const file of walk(join(installed, 'dist')).filter((f) => f.endsWith('.js'))) {
      for (const spec of bareImports(readFileSync(file, 'utf8'))) {
        const name = packageOf(spec);
        if (spec.startsWith('node:') || builtins.has(name) || name in PKG.dependencies) continue;
        missing.add(`${name} (${relative(installed, file)})`);
      }
    }
    assert.deepEqual([...missing], [], 'imported but not in dependencies');
    const version = await corral(['--version']);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), PKG.version);
  });

  it('runs a server and an agent from the installed package alone: the agent enrolls and a deployment reaches it', async () => {
    assert.ok(installed, 'installed by the previous test');
    const server = startCorral(
      ['server', '--listen', '127.0.0.1:0', '--data-dir', join(root, 'server-data'), '--heartbeat', '0.5', '--rollout-defaults', JSON.stringify({ maxInFlight: '100%', minHealthySeconds: 0 })],
      { CORRAL_LOG_LEVEL: 'warn' },
    );
    const grab = (re: RegExp) =>
      eventually(() => re.exec(server.stdout)?.[1] ?? (server.child.exitCode !== null ? Promise.reject(new Error(`server exited: ${server.stderr}`)) : undefined), {
        timeoutMs: 2 * MINUTE,
        what: `server output ${re}`,
      });
    const url = await grab(/listening on (http:\/\/\S+)/);
    const adminToken = await grab(/admin token:\s+(\S+)/);
    const admin = { CORRAL_SERVER: url, CORRAL_TOKEN: adminToken };

    const token = await corral(['token', 'create', '--name', 'npm-package', '--label', 'env=pkg', '-o', 'json'], admin);
    assert.equal(token.code, 0, token.stderr);
    agentData = join(root, 'agent-data');
    const agent = startCorral(['agent', '--server', url, '--data-dir', agentData, '--name', 'from-npm'], { CORRAL_TOKEN: (JSON.parse(token.stdout) as { token: string }).token });

    await eventually(
      async () => {
        const r = await corral(['agents', '-o', 'json'], admin);
        const { agents } = JSON.parse(r.stdout) as { agents: { name: string; status: string; labels: Record<string, string> }[] };
        return agents.some((a) => a.name === 'from-npm' && a.status === 'online' && a.labels.env === 'pkg');
      },
      { timeoutMs: 3 * MINUTE, intervalMs: 500, what: `the agent online (agent stderr: ${agent.stderr.slice(-500)})` },
    );

    const pkgDir = join(root, 'hello');
    mkdirSync(join(pkgDir, 'bin'), { recursive: true });
    writeFileSync(
      join(pkgDir, 'corral.yaml'),
      `apiVersion: corral.io/v1
name: hello
version: 1.0.0
platforms: [{os: linux, arch: any}]
run: {command: bin/serve.sh}
`,
    );
    writeFileSync(join(pkgDir, 'bin', 'serve.sh'), '#!/bin/sh\necho "hello from the package" > started.marker\nexec sleep 600\n', { mode: 0o755 });
    const out = join(root, 'hello-1.0.0.tar.gz');
    const built = await corral(['package', 'build', pkgDir, '--out', out]);
    assert.equal(built.code, 0, built.stderr);
    const pushed = await corral(['package', 'push', out], admin);
    assert.equal(pushed.code, 0, pushed.stderr);
    const deployed = await corral(['deploy', 'hello', '--package', 'hello@1.0.0', '-s', 'env=pkg', '--wait'], admin, 5 * MINUTE);
    assert.equal(deployed.code, 0, `${deployed.stdout}\n${deployed.stderr}`);

    const marker = join(agentData, 'services', 'hello', 'current', 'started.marker');
    await eventually(() => existsSync(marker) && servicePid(agentData, 'hello') !== null, { timeoutMs: 2 * MINUTE, what: 'the service running on the agent' });
    assert.equal(readFileSync(marker, 'utf8'), 'hello from the package\n');

    const undeployed = await corral(['undeploy', 'hello'], admin);
    assert.equal(undeployed.code, 0, undeployed.stderr);
    await eventually(() => !existsSync(join(agentData, 'services', 'hello')), { timeoutMs: 2 * MINUTE, what: 'the service removed' });
  });
});
