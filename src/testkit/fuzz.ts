/**
 * Property-based fuzzing with fast-check, bounded for CI and replayable:
 * every run picks a seed (or takes CORRAL_FUZZ_SEED), prints it, and stops
 * after `numRuns` cases or `timeLimitMs`, whichever comes first. A failure
 * prints the seed and the counterexample's path; replay it with
 *
 *   CORRAL_FUZZ_SEED=<seed> npm test -- <file>
 *
 * and add the shrunk input to the test's regression cases.
 */
import fc from 'fast-check';

export { fc };

export interface FuzzOptions {
  /** Cases to try. Default 300 (CORRAL_FUZZ_RUNS overrides, for a longer local run). */
  numRuns?: number;
  /** Stop after this long whatever numRuns says. Default 5000 ms. */
  timeLimitMs?: number;
}

/** The seed for this process: CORRAL_FUZZ_SEED, or a fresh one. */
export function fuzzSeed(): number {
  const fromEnv = process.env.CORRAL_FUZZ_SEED;
  if (fromEnv !== undefined && fromEnv !== '') {
    const n = Number(fromEnv);
    if (!Number.isInteger(n)) throw new Error(`CORRAL_FUZZ_SEED must be an integer, got "${fromEnv}"`);
    return n;
  }
  return Math.floor(Math.random() * 0x7fffffff);
}

/** Runs `property`; throws (with seed and counterexample) when it fails. */
export async function fuzz<Ts extends [unknown, ...unknown[]]>(name: string, property: fc.IAsyncPropertyWithHooks<Ts> | fc.IPropertyWithHooks<Ts>, opts: FuzzOptions = {}): Promise<void> {
  const seed = fuzzSeed();
  const numRuns = Number(process.env.CORRAL_FUZZ_RUNS ?? opts.numRuns ?? 300);
  console.log(`fuzz ${name}: seed ${seed} (replay: CORRAL_FUZZ_SEED=${seed}), up to ${numRuns} runs / ${opts.timeLimitMs ?? 5000} ms`);
  const details = await fc.check(property as fc.IAsyncProperty<Ts>, { seed, numRuns, interruptAfterTimeLimit: opts.timeLimitMs ?? 5000 });
  if (details.failed) {
    throw new Error(
      `fuzz ${name} failed with seed ${seed} (replay: CORRAL_FUZZ_SEED=${seed}, path ${details.counterexamplePath}):\n` +
        `counterexample: ${fc.stringify(details.counterexample)}\n${details.errorInstance instanceof Error ? (details.errorInstance.stack ?? details.errorInstance.message) : String(details.errorInstance)}`,
    );
  }
}

/** A small seeded PRNG (mulberry32) for tests that draw their own random input: same seed, same sequence, in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
