/**
 * Gives the C heap's free memory back to the kernel: glibc's malloc_trim(3). glibc returns memory
 * freed at the top of its main arena by itself, but free chunks between chunks still in use stay
 * resident until malloc_trim is called, and a long-running process that allocates in bursts (a
 * full rule read, TLS records of the watches, the pipes of the programs it runs) leaves many.
 * Measured on the lab's agent at 10,000 Services × 5 endpoints, steady, gate open: the main arena
 * held 18.2 MB of which 8.9 MB were in use; one malloc_trim(0) took its RSS from 118.5 to 111.4 MB,
 * and trims once a minute keep it at 110.5-112.9 MB (docs/agent.md, "Sizing").
 *
 * Called through `node:ffi` (Node.js 26, Stability 1, experimental): one libc symbol resolved from
 * the running process, one integer argument, an integer result; no pointers and no callbacks, so
 * nothing the call could corrupt. Where it cannot be had (a Node.js without `node:ffi` or started
 * with `--no-experimental-ffi`, a C library without malloc_trim such as musl) {@link openHeapTrimmer}
 * says why, and the process runs as it would have without it.
 */
import { describeError } from '../errors.ts';

/** malloc_trim(0): returns free memory of every arena; true when some was returned. */
export interface HeapTrimmer {
  trim(): boolean;
}

/** A trimmer, or why there is none. */
export type OpenedHeapTrimmer =
  | { readonly ok: true; readonly trimmer: HeapTrimmer }
  | { readonly ok: false; readonly reason: string };

type Ffi = typeof import('node:ffi');

/**
 * Loads `node:ffi` and resolves malloc_trim. Node.js prints an ExperimentalWarning when `node:ffi`
 * is loaded; the caller logs what it uses instead (one line an operator can read), so that one
 * warning is not printed. Never throws.
 */
export function openHeapTrimmer(): OpenedHeapTrimmer {
  let ffi: Ffi | undefined;
  const emitWarning = process.emitWarning;
  try {
    process.emitWarning = () => {};
    ffi = process.getBuiltinModule('node:ffi') as Ffi | undefined;
  } catch (err) {
    return { ok: false, reason: `node:ffi could not be loaded: ${describeError(err)}` };
  } finally {
    process.emitWarning = emitWarning;
  }
  if (!ffi)
    return {
      ok: false,
      reason: 'this Node.js has no node:ffi (or it was started with --no-experimental-ffi)',
    };
  try {
    const { functions } = ffi.dlopen(null, {
      malloc_trim: { arguments: ['uint64'], return: 'int32' },
    });
    const mallocTrim = functions.malloc_trim;
    return { ok: true, trimmer: { trim: () => mallocTrim(0n) === 1 } };
  } catch (err) {
    return {
      ok: false,
      reason: `the C library has no malloc_trim (not glibc?): ${describeError(err)}`,
    };
  }
}
