/**
 * How Node.js runs netwarden where it ships: the image's entrypoint and environment, and the lab's
 * process agents (src/lab/node.ts), so that what the lab and `bench/agent-steady.ts` measure is what
 * a node runs. Figures: docs/agent.md, "Sizing".
 *
 * - `--max-semi-space-size`: V8 sizes the young generation for throughput (here it grew to ~35–65 MB
 *   committed) and keeps it committed while the agent sleeps between rounds. The agent allocates in
 *   short bursts (a round, a full rule read); a small young generation costs more scavenges, not
 *   correctness.
 * - `MALLOC_ARENA_MAX=2`: glibc gives each thread that allocates (V8's compiler and GC helpers,
 *   libuv's pool) its own arena and rarely returns their freed memory; two arenas hold the same
 *   work with less left behind.
 */
export const RUNTIME_FLAGS: readonly string[] = ['--max-semi-space-size=4'];

/** Environment for the node process, as `NAME=value`. */
export const RUNTIME_ENV: readonly string[] = ['MALLOC_ARENA_MAX=2'];

/** {@link RUNTIME_ENV} as an object (for spawning). */
export function runtimeEnv(): Record<string, string> {
  return Object.fromEntries(RUNTIME_ENV.map((kv) => kv.split('=', 2) as [string, string]));
}
