/**
 * Typed errors. Library code throws these; only `cli/` turns them into exit codes and one-line
 * messages. `code` is stable and machine-readable; `message` names the input and the problem.
 */

/** Stable error codes across the project. Add, never rename. */
export type ErrorCode =
  | 'usage'
  | 'config-invalid'
  | 'kubeconfig-missing'
  | 'kubeconfig-invalid'
  | 'kube-api'
  | 'kube-conflict'
  | 'binary-missing'
  | 'build-failed'
  | 'lab-start-failed'
  | 'lab-timeout'
  | 'exec-failed'
  | 'input-unreadable'
  | 'chart-render-failed'
  | 'image-build-failed';

/** Base of every error netwarden throws on purpose. */
export class NetwardenError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NetwardenError';
    this.code = code;
  }
}

/** True when `err` is a NetwardenError, optionally of one code. */
export function isNetwardenError(err: unknown, code?: ErrorCode): err is NetwardenError {
  return err instanceof NetwardenError && (code === undefined || err.code === code);
}

/** A short, single-line description of any thrown value, for logs and CLI messages. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.name;
  return String(err).split('\n')[0] ?? 'unknown error';
}

/** Compile-time exhaustiveness check for `switch` statements over unions. */
export function assertNever(value: never, what: string): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
