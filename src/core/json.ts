/** Narrowing helpers for JSON of unknown shape (parsers of untrusted input). */
import { NetwardenError } from '../errors.ts';

/** A plain JSON object. */
export type JsonObject = Record<string, unknown>;

/** True for a non-null, non-array object. */
export const isObj = (v: unknown): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A string, or a number as a string; undefined otherwise. */
export const str = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;

/**
 * `JSON.parse` for untrusted input: a parse error becomes `input-unreadable` naming `what`
 * (e.g. "ip -j route" or a file name), with the parser's own words cut to 80 characters.
 */
export function parseJsonInput(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new NetwardenError(
      'input-unreadable',
      `${what}: not JSON (${(err as Error).message.slice(0, 80)})`,
    );
  }
}
