/**
 * The outcome of reading one piece of node state (a command's output, an HTTP endpoint, a file).
 * Three cases, because the judgement must tell them apart:
 * - `ok`: the read worked; `value` is what it said.
 * - `absent`: the read worked and says the thing is not there (connection refused on a local port,
 *   "no such table", a file that does not exist). That is evidence.
 * - `unknown`: the read itself failed (timed out, output cut at its cap, tool missing, permission
 *   denied, unparsable). That is not evidence of anything and never holds a node.
 */

/** One read. */
export type Read<T> =
  | { readonly status: 'ok'; readonly value: T; readonly source: string }
  | { readonly status: 'absent'; readonly source: string; readonly detail: string }
  | { readonly status: 'unknown'; readonly source: string; readonly reason: string; readonly detail: string };

/** A successful read. */
export function readOk<T>(value: T, source: string): Read<T> {
  return { status: 'ok', value, source };
}

/** A read that says the thing is not there. */
export function readAbsent<T>(source: string, detail: string): Read<T> {
  return { status: 'absent', source, detail };
}

/** A read that failed; `reason` is CamelCase (e.g. `ReadTimedOut`, `OutputTruncated`). */
export function readUnknown<T>(source: string, reason: string, detail: string): Read<T> {
  return { status: 'unknown', source, reason, detail };
}

/** The value of a successful read, else undefined. */
export function readValue<T>(r: Read<T> | undefined): T | undefined {
  return r?.status === 'ok' ? r.value : undefined;
}

/** One line saying what a read gave, for messages and notes. */
export function describeRead(r: Read<unknown>): string {
  switch (r.status) {
    case 'ok':
      return `${r.source}: read`;
    case 'absent':
      return `${r.source}: ${r.detail}`;
    case 'unknown':
      return `${r.source}: ${r.detail}`;
    default:
      return exhaustive(r);
  }
}

/** Compile-time exhaustiveness for `switch` statements. */
export function exhaustive(x: never): never {
  throw new Error(`unexpected value ${JSON.stringify(x)}`);
}
