/** Flag parsing shared by the commands: every bad value is a usage error naming the flag. */
import { formatDuration, parseDuration } from '../core/duration.ts';
import { NetwardenError } from '../errors.ts';

/** Parses a duration flag (e.g. `20s`) into milliseconds, at most `maxMs`. */
export function durationFlag(flag: string, text: string, maxMs = 3_600_000): number {
  const ms = parseDuration(text);
  if (typeof ms !== 'number') throw new NetwardenError('usage', `${flag}: ${ms.error}`);
  if (ms > maxMs)
    throw new NetwardenError('usage', `${flag}: ${text} is longer than ${formatDuration(maxMs)}`);
  return ms;
}

/** Parses a whole-number flag in [min, max]. */
export function intFlag(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new NetwardenError('usage', `${flag}: "${text}" is not a whole number between ${min} and ${max}`);
  }
  return n;
}

/** Parses a flag that must be one of `choices`. */
export function choiceFlag<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) {
    throw new NetwardenError('usage', `${flag}: "${text}" is not one of ${choices.join(', ')}`);
  }
  return text as T;
}

/** Parses a comma-separated list whose items must be among `known`. */
export function listFlag<T extends string>(flag: string, text: string | undefined, known: readonly T[]): T[] {
  const items = (text ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  for (const item of items) {
    if (!(known as readonly string[]).includes(item)) {
      throw new NetwardenError('usage', `${flag}: unknown value "${item}" (known: ${known.join(', ')})`);
    }
  }
  return items as T[];
}
