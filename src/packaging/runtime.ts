/**
 * How Node.js runs netwarden where it ships: the image's entrypoint and environment, and the lab's
 * process agents (src/lab/node.ts), so that what the lab and `bench/agent-steady.ts` measure is what
 * a node runs. Figures: docs/agent.md, "Sizing".
 *
 * - `--max-semi-space-size=2`: V8 sizes the young generation for throughput (here it grew to
 *   ~35–65 MB committed) and keeps it committed while the agent sleeps between rounds. The agent
 *   allocates in short bursts (a round, a full rule read); a small young generation costs more
 *   scavenges, not correctness.
 * - `--optimize-for-size`: V8's mode that "favors memory size over execution speed" (its words).
 * - `--heap-growing-percent=25`: after a full GC the old generation may grow to 1.25 × what
 *   survived before the next one, instead of a factor V8 derives from its GC speed. What a full rule
 *   read allocates is then collected sooner: the peak, not the steady state, is what this lowers.
 *   These two and the smaller semi-space together: 16–25 MB less peak RSS at 10,000 Services,
 *   the steady state unchanged, the agent's own CPU +0.07 to +0.12 points of a core (docs/agent.md,
 *   "Sizing").
 * - `--max-opt=2`: V8 optimizes up to Maglev, never with TurboFan. TurboFan's code pages in the
 *   node binary are then never touched, nor its compiler zones filled: 13 MB less steady RSS at
 *   10,000 Services (145.3 vs 158.6 / 158.4 MB, peak 164.8 vs 175.5 / 170.8), the agent's own CPU
 *   where the shipped agent's was (0.64 % vs 0.63 / 0.79 %), side by side in one lab
 *   (`bench/agent-steady.ts --flags`, docs/agent.md "Sizing"); shipped, 10-min windows: 147.7 /
 *   145.7 MB, CPU with the programs 0.97 / 0.90 %. No optimizing compiler at all (`--lite-mode`)
 *   saved 9 MB more at +0.3 points of a core, Sparkplug only (`--max-opt=1`) 3 MB at +0.14: not
 *   taken.
 * - `MALLOC_ARENA_MAX=2`: glibc gives each thread that allocates (V8's compiler and GC helpers,
 *   libuv's pool) its own arena and rarely returns their freed memory; two arenas hold the same
 *   work with less left behind.
 * - `MALLOC_MMAP_THRESHOLD_=32768`: glibc serves a block of 32 KiB or more with a mapping of its
 *   own, unmapped when freed; smaller ones come from an arena, whose freed middle it rarely
 *   returns. Left to itself glibc raises this threshold (up to 32 MiB) each time a mapped block is
 *   freed, and then V8's 32 KiB compiler zone segments and the 64 KiB buffers of a program's
 *   output land in the arena and leave holes there; a threshold that is set is never raised.
 *   The programs the agent runs inherit it (their CPU measured the same). Idle agent: the arena
 *   10.0 -> 4.5 MB, RSS 84.2 -> 79.1 MB (8-24 KiB measured the same, 40 KiB no gain). At 10,000 Services, windows alternating in one lab: steady 138.2 and 125.9 MB against
 *   147.1 and 137.6 without it, the agent's CPU 0.58 / 0.54 % against 0.60 / 0.52 %. The peak of a
 *   full read (V8's heap, not the arenas) 144.4 and 152.2 against 152.5 and 152.8.
 */
export const RUNTIME_FLAGS: readonly string[] = [
  '--max-semi-space-size=2',
  '--optimize-for-size',
  '--heap-growing-percent=25',
  '--max-opt=2',
];

/** Environment for the node process, as `NAME=value`. */
export const RUNTIME_ENV: readonly string[] = ['MALLOC_ARENA_MAX=2', 'MALLOC_MMAP_THRESHOLD_=32768'];

/** {@link RUNTIME_ENV} as an object (for spawning). */
export function runtimeEnv(): Record<string, string> {
  return Object.fromEntries(RUNTIME_ENV.map((kv) => kv.split('=', 2) as [string, string]));
}
