/**
 * The part of the recycle limiter that must survive an agent restart, as a Node annotation: the
 * boot it belongs to, recycles on this boot (the per-boot limit), the recent recycle times (the
 * per-minute limit), each owner's recycles and whether the loop breaker gave up on it, and the
 * evictions still in flight. Back-off and "already reported" marks are not kept: losing them costs
 * one retried eviction or one repeated Event, never an extra recycle beyond the limits.
 *
 * The value is validated on the way in: an annotation that does not parse, or belongs to another
 * boot, is ignored (a fresh state for the boot), never trusted half-way.
 */
import { z } from 'zod';
import { initialLimiterState, type LimiterState } from './rate-limit.ts';

/** Node annotation holding the limiter state of the current boot. */
export const RECYCLE_STATE_ANNOTATION = 'netwarden.dev/recycle-state';

/** An owner's history is kept for at most this many owners (the per-boot limit is 50 by default). */
const MAX_OWNERS = 200;

const SCHEMA = z.object({
  bootId: z.string(),
  bootTotal: z.number().int().min(0),
  recentMs: z.array(z.number()).max(10_000),
  owners: z.record(
    z.string(),
    z.object({
      recycles: z
        .array(z.object({ podKey: z.string(), atMs: z.number(), generation: z.number().int().min(1) }))
        .max(10_000),
      gaveUpAtMs: z.number().optional(),
    }),
  ),
  inFlight: z
    .array(
      z.object({
        podUid: z.string(),
        podKey: z.string(),
        ownerKey: z.string(),
        ownerKind: z.string(),
        atMs: z.number(),
      }),
    )
    .max(10_000),
});

/** The annotation value for `state`. */
export function serializeRecycleState(state: LimiterState): string {
  const owners = Object.entries(state.owners).slice(-MAX_OWNERS);
  return JSON.stringify({
    bootId: state.bootId,
    bootTotal: state.bootTotal,
    recentMs: state.recentMs,
    owners: Object.fromEntries(
      owners.map(([k, o]) => [
        k,
        { recycles: o.recycles, ...(o.gaveUpAtMs !== undefined ? { gaveUpAtMs: o.gaveUpAtMs } : {}) },
      ]),
    ),
    inFlight: state.inFlight,
  });
}

/** The state recorded for `bootId`, or undefined when the annotation is absent, invalid or of another boot. */
export function restoreRecycleState(text: string | undefined, bootId: string): LimiterState | undefined {
  if (text === undefined || text.length > 256 * 1024) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = SCHEMA.safeParse(doc);
  if (!parsed.success || parsed.data.bootId !== bootId) return undefined;
  const d = parsed.data;
  return {
    ...initialLimiterState(bootId),
    bootTotal: d.bootTotal,
    recentMs: d.recentMs,
    owners: Object.fromEntries(
      Object.entries(d.owners).map(([k, o]) => [
        k,
        { recycles: o.recycles, ...(o.gaveUpAtMs !== undefined ? { gaveUpAtMs: o.gaveUpAtMs } : {}) },
      ]),
    ),
    inFlight: d.inFlight,
  };
}

/** True when two states differ in what is persisted (so an unchanged round writes nothing). */
export function recycleStateChanged(a: LimiterState | undefined, b: LimiterState): boolean {
  return a === undefined || serializeRecycleState(a) !== serializeRecycleState(b);
}
