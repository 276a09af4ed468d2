/**
 * The flags for node itself that every supported way of starting the agent
 * passes before the script: the systemd unit `corral agent install` writes,
 * the upgrade watcher (which starts the new version as the old one was
 * started), `npm run demo`, the end-to-end tests and the footprint bench.
 *
 * - `--lite-mode`: V8 trades speed for memory (no optimizing compiler, lazy
 *   feedback, smaller heap). The agent is idle almost all the time; measured
 *   ~15 MiB less RSS (docs/benchmarks.md, "Agent footprint"). It disables
 *   WebAssembly, which is why the agent must not use `fetch()` (its undici
 *   parser is WebAssembly; eslint forbids it in src/agent).
 * - `--no-expose-wasm`: says explicitly what lite mode implies, so node does
 *   not print a "disabling flag --expose_wasm" warning at every start.
 * - `--max-semi-space-size=1`: a 1 MiB young generation, so RSS does not swing
 *   with when V8 last collected the resource sampler's garbage.
 */
export const AGENT_NODE_FLAGS: readonly string[] = ['--lite-mode', '--no-expose-wasm', '--max-semi-space-size=1'];
