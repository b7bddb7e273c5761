/**
 * The memory budget of untrusted bundle inputs. The analysis parses whole inputs in memory, and
 * what a parser costs per input byte varies from 1× to 40× with the input's shape (short lines,
 * tiny JSON values and maps of unique keys cost most), so capping bytes alone does not bound
 * memory. Every input offered gets an estimate, `perByte × bytes + perUnit × units`, from the
 * worst cost measured for its parser family (units are lines, or JSON values); inputs are kept
 * while the estimates fit the budget, more important inputs displacing less important ones, logs
 * cut to their latest lines (each log to at most a quarter of the budget). Whatever is left out
 * is said in a note. The estimates over-state ordinary inputs (a 10,000-Service kube-proxy
 * ruleset: ~200 MB estimated, ~80 MB real), which is the price of bounding crafted ones.
 */
import { isAscii } from 'node:buffer';

/**
 * The parser family of an input, which sets its memory estimate: `iptables` (iptables-save),
 * `lines` (logs, `ip rule`/`ip route` text, Prometheus text), `json` (nft and `ip -j` output, CNI
 * configs), `json-map` (ipamd's JSON keyed by pod, ENI or variable, turned into maps).
 */
export type CostClass = 'iptables' | 'lines' | 'json' | 'json-map';

/**
 * Bytes per input byte (the string itself included: one per ASCII character, non-ASCII input adds
 * one) and bytes per unit, set ~20% above the worst that bench/doctor-bundle-memory.ts --calibrate
 * measured (varied lines, tiny tables, tiny JSON values, maps of unique keys): KUBE-SERVICES rules
 * with comments 7.2 B/B, Prometheus samples with three labels 820 B/line, ipamd pod maps
 * 840 B/value, `ip -j link` objects 190 B/value. The margin covers what the report adds and a
 * garbage collector slowed by a busy machine. Re-run the calibration after changing a parser.
 */
const COST: Readonly<Record<CostClass, { readonly perByte: number; readonly perUnit: number }>> = {
  iptables: { perByte: 8, perUnit: 160 },
  lines: { perByte: 1, perUnit: 1000 },
  json: { perByte: 1, perUnit: 250 },
  'json-map': { perByte: 1, perUnit: 1050 },
};

function countByte(data: Buffer, byte: number): number {
  let n = 0;
  for (let at = data.indexOf(byte); at >= 0; at = data.indexOf(byte, at + 1)) n++;
  return n;
}

/** Units an input holds: lines for text, an upper bound on values for JSON (`,` `{` `[`). */
export function costUnits(data: Buffer, cls: CostClass): number {
  if (cls === 'json' || cls === 'json-map')
    return countByte(data, 0x2c) + countByte(data, 0x7b) + countByte(data, 0x5b) + 1;
  return countByte(data, 0x0a) + 1;
}

/** The estimated peak memory (bytes) of loading and parsing one input. */
export function estimateCost(data: Buffer, cls: CostClass): number {
  if (data.length === 0) return 0;
  const c = COST[cls];
  const perByte = c.perByte + (isAscii(data) ? 0 : 1);
  return perByte * data.length + c.perUnit * costUnits(data, cls);
}

/** The latest part of `data` (whole lines) whose estimate is at most `maxCost`; empty if none. */
export function tailWithin(data: Buffer, cls: CostClass, maxCost: number): Buffer {
  const c = COST[cls];
  const perByte = c.perByte + (isAscii(data) ? 0 : 1);
  let cost = c.perUnit;
  let start = data.length;
  // Walk back line by line; `start` is where the kept tail begins.
  while (start > 0) {
    const nl = start >= 2 ? data.lastIndexOf(0x0a, start - 2) : -1;
    const lineStart = nl < 0 ? 0 : nl + 1;
    const next = cost + perByte * (start - lineStart) + c.perUnit;
    if (next > maxCost) break;
    cost = next;
    start = lineStart;
  }
  return data.subarray(start);
}

interface Kept {
  readonly name: string;
  data: Buffer;
  cost: number;
  readonly cls: CostClass;
  readonly tail: boolean;
  readonly rank: number;
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

/**
 * Decides which inputs the analysis may load within `budgetBytes` of estimated memory.
 * `rank(name)` orders importance (lower is more important); `hint(extraBytes, atLeast)` ends the
 * note of an input left out, e.g. with the option that would admit it (`atLeast`: the extra memory
 * is a lower bound, the input's content was not looked at). Offering the same name again replaces
 * the earlier copy (the last one wins, as `tar -x` would leave it).
 */
export class InputBudget {
  private readonly kept = new Map<string, Kept>();
  private used = 0;
  /** What was left out or cut, one line each, for the report. */
  readonly notes: string[] = [];
  private readonly copies = new Map<string, number>();
  private readonly budgetBytes: number;
  private readonly rank: (name: string) => number;
  private readonly hint: (extraBytes: number, atLeast: boolean) => string;

  constructor(
    budgetBytes: number,
    rank: (name: string) => number,
    hint: (extraBytes: number, atLeast: boolean) => string = () => '',
  ) {
    this.budgetBytes = Math.max(0, budgetBytes);
    this.rank = rank;
    this.hint = hint;
  }

  /**
   * Offers an input. A `tail` input (a log) takes at most a quarter of the budget and what is
   * free, cut to its latest lines; any other input is kept whole or not at all, making room by
   * shrinking or dropping less important inputs when that is enough.
   */
  offer(name: string, data: Buffer, cls: CostClass, tail: boolean): void {
    const old = this.kept.get(name);
    if (old) this.drop(old);
    this.copies.set(name, (this.copies.get(name) ?? 0) + 1);
    const entry: Kept = { name, data, cost: estimateCost(data, cls), cls, tail, rank: this.rank(name) };
    if (tail) {
      const room = Math.min(this.free(), this.budgetBytes / 4);
      if (entry.cost > room) {
        entry.data = tailWithin(data, cls, room);
        entry.cost = estimateCost(entry.data, cls);
        if (entry.data.length === 0) {
          this.notes.push(
            `${name}: not read: the ${mb(this.budgetBytes)} memory budget is used up by more important inputs`,
          );
          return;
        }
        this.notes.push(`${name}: only the last ${mb(entry.data.length)} read (memory budget)`);
      }
    } else if (entry.cost > this.free()) {
      // Less important inputs make room, least important first, logs before others of their rank.
      const lower = [...this.kept.values()]
        .filter((k) => k.rank > entry.rank)
        .sort((a, b) => b.rank - a.rank || Number(b.tail) - Number(a.tail));
      if (entry.cost > this.free() + lower.reduce((s, k) => s + k.cost, 0)) {
        this.notes.push(
          `${name} (${mb(data.length)}): not read: parsing needs ~${mb(entry.cost)}, ${mb(this.free())} of the ${mb(this.budgetBytes)} memory budget left${this.hint(entry.cost - this.free(), false)}`,
        );
        return;
      }
      for (const k of lower) {
        if (entry.cost <= this.free()) break;
        this.shrinkOrDrop(k, entry.cost - this.free(), name);
      }
    }
    this.kept.set(name, entry);
    this.used += entry.cost;
  }

  /**
   * False when an input of `size` bytes cannot fit whatever its content (its per-byte cost alone
   * is more than is free or freeable): the reader then skips it without buffering it.
   */
  couldFit(name: string, size: number, cls: CostClass, tail: boolean): boolean {
    if (tail) return true;
    const rank = this.rank(name);
    const freeable = [...this.kept.values()].filter((k) => k.rank > rank).reduce((s, k) => s + k.cost, 0);
    const least = COST[cls].perByte * size;
    if (least <= this.free() + freeable) return true;
    this.notes.push(
      `${name} (${mb(size)}): not read: parsing needs more than ${mb(least)}, ${mb(this.free())} of the ${mb(this.budgetBytes)} memory budget left${this.hint(least - this.free(), true)}`,
    );
    return false;
  }

  /** Hands the kept inputs over (the budget keeps no reference, so each can be freed once used). */
  take(): Map<string, Buffer> {
    for (const [name, n] of this.copies)
      if (n > 1) this.notes.push(`${name}: appears ${n} times in the bundle; the last copy is read`);
    this.copies.clear();
    const out = new Map([...this.kept.values()].map((k) => [k.name, k.data]));
    this.kept.clear();
    this.used = 0;
    return out;
  }

  /** Names currently kept. */
  names(): string[] {
    return [...this.kept.keys()];
  }

  private free(): number {
    return this.budgetBytes - this.used;
  }

  private drop(k: Kept): void {
    this.kept.delete(k.name);
    this.used -= k.cost;
  }

  private shrinkOrDrop(k: Kept, need: number, forName: string): void {
    if (k.tail) {
      const data = tailWithin(k.data, k.cls, k.cost - need);
      if (data.length > 0) {
        const cost = estimateCost(data, k.cls);
        this.used += cost - k.cost;
        k.cost = cost;
        k.data = data;
        this.notes.push(`${k.name}: only the last ${mb(data.length)} read (memory budget, ${forName} first)`);
        return;
      }
    }
    this.drop(k);
    this.notes.push(`${k.name}: not read: the memory budget went to ${forName}${this.hint(k.cost, false)}`);
  }
}
