/**
 * Environment defaults for every process that computes runs: the extension's worker and the
 * bench's children (the user's environment wins). MALLOC_ARENA_MAX=1: glibc
 * gives each of V8's background threads its own 64 MB malloc arena and keeps their pages, so a
 * long run's RSS drifted up and down by ~50–80 MiB without any leak (measured: 689 → 784 MiB over
 * 1000 Hopfield steps with the wasm and V8 heaps flat); with one arena it stays within a few MiB
 * (two arenas: a plateau ~85 MiB above the first evaluation, reached after ~300 steps).
 */
export const WORKER_ENV_DEFAULTS: Record<string, string> = { MALLOC_ARENA_MAX: '1' };

/** The environment of such a process: the defaults, then this process's environment, then `layers` in order. */
export function workerEnv(...layers: (NodeJS.ProcessEnv | undefined)[]): NodeJS.ProcessEnv {
  return Object.assign({}, WORKER_ENV_DEFAULTS, process.env, ...layers);
}
