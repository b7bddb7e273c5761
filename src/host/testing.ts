/** Test helpers for code that runs programs (unit tests only). */
import type { ExecResult } from './exec.ts';

/** A finished program's result: exit 0, no output, unless `o` says otherwise. */
export function execResult(o: Partial<ExecResult> = {}): ExecResult {
  return {
    code: 0,
    signal: null,
    stdout: '',
    stderr: '',
    timedOut: false,
    truncated: false,
    durationMs: 1,
    ...o,
  };
}
