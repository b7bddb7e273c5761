import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  admitRecycle,
  backoffDelayMs,
  clearBackoff,
  DEFAULT_RECYCLE_LIMITS,
  initialLimiterState,
  type LimiterState,
  limiterForBoot,
  ownersNotHealed,
  podGeneration,
  type RecycleLimits,
  type RecycleRequest,
  recordGaveUp,
  recordRecycle,
  recordRefusal,
  recordReported,
  settleInFlight,
  wasReported,
} from './rate-limit.ts';

const T0 = Date.UTC(2026, 2, 1, 12, 0, 0);
const S = 1000;
const limits: RecycleLimits = { ...DEFAULT_RECYCLE_LIMITS, maxConcurrent: 2, maxPerMinute: 3, maxPerBoot: 5 };

const req = (n: string, over: Partial<RecycleRequest> = {}): RecycleRequest => ({
  podUid: `uid-${n}`,
  podKey: `app/${n}`,
  podCreatedMs: T0 - 3_600_000,
  ownerKey: 'ReplicaSet/app/web:rs1',
  ownerKind: 'ReplicaSet',
  ...over,
});

/** Admits and records; fails the test when refused. */
function take(state: LimiterState, r: RecycleRequest, now: number, l = limits): LimiterState {
  const a = admitRecycle(state, r, now, l);
  if (!a.ok) throw new Error(`refused ${r.podKey}: ${a.denial} ${a.detail}`);
  return recordRecycle(state, r, a.generation, now);
}

const denial = (state: LimiterState, r: RecycleRequest, now: number, l = limits): string =>
  ((a) => (a.ok ? `ok gen ${a.generation}` : a.denial))(admitRecycle(state, r, now, l));

describe('admitRecycle', () => {
  const s0 = initialLimiterState('boot-1');
  const two = take(take(s0, req('a'), T0), req('b'), T0 + S);

  const cases: {
    name: string;
    state: LimiterState;
    r: RecycleRequest;
    now: number;
    l?: RecycleLimits;
    want: string;
  }[] = [
    { name: 'fresh state', state: s0, r: req('a'), now: T0, want: 'ok gen 1' },
    { name: 'K=2 in flight', state: two, r: req('c'), now: T0 + 2 * S, want: 'concurrency' },
    {
      name: 'one of them gone',
      state: settleInFlight(two, new Set(['uid-b']), T0 + 2 * S, limits),
      r: req('c'),
      now: T0 + 2 * S,
      want: 'ok gen 1',
    },
    {
      name: 'in-flight entries time out (stuck finalizer)',
      state: two,
      r: req('c'),
      now: T0 + limits.inFlightTimeoutMs + 2 * S,
      want: 'ok gen 1',
    },
    {
      name: 'the same pod again while in flight',
      state: take(s0, req('a'), T0),
      r: req('a'),
      now: T0 + S,
      want: 'in-flight',
    },
    {
      name: 'a StatefulSet sibling in flight',
      state: take(s0, req('db-0', { ownerKind: 'StatefulSet', ownerKey: 'StatefulSet/app/db:s1' }), T0),
      r: req('db-1', { ownerKind: 'StatefulSet', ownerKey: 'StatefulSet/app/db:s1' }),
      now: T0 + S,
      want: 'statefulset-in-progress',
    },
    {
      name: 'another StatefulSet in flight does not block',
      state: take(s0, req('db-0', { ownerKind: 'StatefulSet', ownerKey: 'StatefulSet/app/db:s1' }), T0),
      r: req('mq-0', { ownerKind: 'StatefulSet', ownerKey: 'StatefulSet/app/mq:s2' }),
      now: T0 + S,
      want: 'ok gen 1',
    },
    {
      name: 'a ReplicaSet sibling in flight does not block',
      state: take(s0, req('a'), T0),
      r: req('b'),
      now: T0 + S,
      want: 'ok gen 1',
    },
    {
      name: 'back-off after a 429',
      state: recordRefusal(s0, 'uid-a', 'pdb', T0, limits),
      r: req('a'),
      now: T0 + limits.backoffBaseMs - 1,
      want: 'backoff',
    },
    {
      name: 'back-off over',
      state: recordRefusal(s0, 'uid-a', 'pdb', T0, limits),
      r: req('a'),
      now: T0 + limits.backoffBaseMs,
      want: 'ok gen 1',
    },
    {
      name: 'back-off is per pod',
      state: recordRefusal(s0, 'uid-a', 'pdb', T0, limits),
      r: req('b'),
      now: T0 + S,
      want: 'ok gen 1',
    },
  ];
  it.each(cases)('$name → $want', ({ state, r, now, l, want }) => {
    expect(denial(state, r, now, l)).toBe(want);
  });

  it('allows R per sliding minute, and says when the next one may go', () => {
    const l = { ...limits, maxConcurrent: 10 };
    let s = s0;
    for (const [i, n] of ['a', 'b', 'c'].entries()) s = take(s, req(n), T0 + i * S, l);
    const a = admitRecycle(s, req('d'), T0 + 30 * S, l);
    expect(a).toMatchObject({ ok: false, denial: 'per-minute', retryAtMs: T0 + 60 * S });
    expect(denial(s, req('d'), T0 + 60 * S - 1, l)).toBe('per-minute');
    expect(denial(s, req('d'), T0 + 60 * S, l)).toBe('ok gen 1');
  });

  it('caps recycles per boot, and a new boot starts over', () => {
    const l = { ...limits, maxConcurrent: 100, maxPerMinute: 100, maxPerBoot: 3 };
    let s = s0;
    for (const n of ['a', 'b', 'c']) s = take(s, req(n, { ownerKey: `RS/${n}` }), T0, l);
    expect(denial(s, req('d', { ownerKey: 'RS/d' }), T0 + 3_600_000, l)).toBe('per-boot');
    expect(limiterForBoot(s, 'boot-1')).toBe(s);
    const next = limiterForBoot(s, 'boot-2');
    expect(next).toEqual(initialLimiterState('boot-2'));
    expect(denial(next, req('d', { ownerKey: 'RS/d' }), T0 + 3_600_000, l)).toBe('ok gen 1');
  });
});

describe('loop breaker', () => {
  const l = { ...limits, maxConcurrent: 10, maxPerMinute: 10, maxPerBoot: 50 };
  const s0 = initialLimiterState('boot-1');

  it('repairs all originals of a ReplicaSet, then one replacement generation, then stops', () => {
    // five replicas that all started too early: every one is generation 1
    let s = s0;
    for (const n of ['a', 'b', 'c', 'd', 'e']) s = take(s, req(n), T0, l);
    expect(podGeneration(s, 'ReplicaSet/app/web:rs1', T0 - 3_600_000, l)).toBe(1);
    // a replacement created after the recycle comes up broken: generation 2, allowed
    const replacement = req('f', { podCreatedMs: T0 + 5 * S });
    expect(denial(s, replacement, T0 + 120 * S, l)).toBe('ok gen 2');
    s = take(s, replacement, T0 + 120 * S, l);
    // its replacement is broken too: generation 3, refused
    const third = req('g', { podCreatedMs: T0 + 125 * S });
    expect(denial(s, third, T0 + 240 * S, l)).toBe('loop-breaker');
    // the agent records the give-up; from then on even an original of the owner is refused
    s = recordGaveUp(s, 'ReplicaSet/app/web:rs1', T0 + 240 * S);
    expect(denial(s, req('h'), T0 + 241 * S, l)).toBe('loop-breaker');
    expect(ownersNotHealed(s)).toEqual(['ReplicaSet/app/web:rs1']);
    // other owners are unaffected
    expect(denial(s, req('x', { ownerKey: 'ReplicaSet/app/api:rs2' }), T0 + 241 * S, l)).toBe('ok gen 1');
  });

  it('a single-replica StatefulSet: try 1, try 2, then RecyclingDidNotHeal', () => {
    const sts = { ownerKind: 'StatefulSet', ownerKey: 'StatefulSet/app/db:s1' };
    let s = take(s0, req('db-0', sts), T0, l);
    s = settleInFlight(s, new Set(), T0 + 30 * S, l);
    s = take(s, req('db-0', { ...sts, podUid: 'uid-db-0-v2', podCreatedMs: T0 + 20 * S }), T0 + 200 * S, l);
    s = settleInFlight(s, new Set(), T0 + 230 * S, l);
    const v3 = req('db-0', { ...sts, podUid: 'uid-db-0-v3', podCreatedMs: T0 + 220 * S });
    expect(admitRecycle(s, v3, T0 + 400 * S, l)).toMatchObject({
      ok: false,
      denial: 'loop-breaker',
      detail: expect.stringContaining('try 3'),
    });
  });

  it('tolerates the agent clock running ahead of the API server by up to clockSkewMs', () => {
    const s = take(s0, req('a'), T0, l);
    // created 5 s "before" the recycle by the API server's clock: still a replacement
    expect(podGeneration(s, 'ReplicaSet/app/web:rs1', T0 - 5 * S, l)).toBe(2);
    expect(podGeneration(s, 'ReplicaSet/app/web:rs1', T0 - l.clockSkewMs - 1, l)).toBe(1);
    // no creation time: assumed to be a replacement
    expect(podGeneration(s, 'ReplicaSet/app/web:rs1', undefined, l)).toBe(2);
  });

  it('recordGaveUp is idempotent', () => {
    const s = recordGaveUp(s0, 'o', T0);
    expect(recordGaveUp(s, 'o', T0 + S)).toBe(s);
  });
});

describe('back-off and reports', () => {
  it.each([
    [1, 10_000],
    [2, 20_000],
    [3, 40_000],
    [6, 300_000],
    [100, 300_000],
  ])('after %i refusal(s) waits %i ms', (n, ms) => {
    expect(backoffDelayMs(n)).toBe(ms);
  });

  it('doubles per consecutive refusal and clears on a recycle or when the pod is gone', () => {
    let s = initialLimiterState('b');
    s = recordRefusal(s, 'uid-a', 'pdb', T0);
    s = recordRefusal(s, 'uid-a', 'throttled', T0 + 10 * S);
    expect(s.backoff['uid-a']).toEqual({ failures: 2, nextAtMs: T0 + 30 * S, lastReason: 'throttled' });
    expect(take(s, req('a'), T0 + 30 * S).backoff['uid-a']).toBeUndefined();
    expect(clearBackoff(s, 'uid-a').backoff).toEqual({});
    expect(settleInFlight(s, new Set(['uid-b']), T0).backoff).toEqual({});
    expect(settleInFlight(s, new Set(['uid-a']), T0).backoff['uid-a']?.failures).toBe(2);
  });

  it('remembers what was reported per pod and boot', () => {
    let s = initialLimiterState('b');
    expect(wasReported(s, 'uid-a', 'Unowned')).toBe(false);
    s = recordReported(s, 'uid-a', 'Unowned');
    expect(wasReported(s, 'uid-a', 'Unowned')).toBe(true);
    expect(wasReported(s, 'uid-a', 'OptedOut')).toBe(false);
    expect(recordReported(s, 'uid-a', 'Unowned')).toBe(s);
    expect(settleInFlight(s, new Set(), T0).reported).toEqual({});
  });

  it('the state survives a JSON round trip (the agent may persist it)', () => {
    let s = initialLimiterState('b');
    s = take(s, req('a'), T0);
    s = recordRefusal(s, 'uid-b', 'pdb', T0);
    s = recordGaveUp(recordReported(s, 'uid-c', 'Unowned'), 'x', T0);
    const back = JSON.parse(JSON.stringify(s)) as LimiterState;
    expect(back).toEqual(s);
    expect(denial(back, req('c'), T0 + S)).toBe(denial(s, req('c'), T0 + S));
  });
});

describe('properties under random event sequences', () => {
  type Op =
    | { op: 'advance'; ms: number }
    | { op: 'request'; owner: number; sts: boolean }
    | { op: 'gone'; pick: number };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 90_000 }) }),
    fc.record({
      op: fc.constant('request' as const),
      owner: fc.integer({ min: 0, max: 5 }),
      sts: fc.boolean(),
    }),
    fc.record({ op: fc.constant('gone' as const), pick: fc.nat() }),
  );
  const limitsArb = fc.record({
    maxConcurrent: fc.integer({ min: 1, max: 4 }),
    maxPerMinute: fc.integer({ min: 1, max: 6 }),
    maxPerBoot: fc.integer({ min: 1, max: 20 }),
    inFlightTimeoutMs: fc.integer({ min: 30_000, max: 600_000 }),
  });

  interface Admitted {
    readonly uid: string;
    readonly at: number;
    readonly owner: string;
    readonly sts: boolean;
  }

  /** Checks the limits against the test's own record of admissions, independent of the limiter's state. */
  function checkInvariants(
    l: RecycleLimits,
    admitted: readonly Admitted[],
    live: ReadonlySet<string>,
    now: number,
  ): void {
    const inFlight = admitted.filter((x) => live.has(x.uid) && now - x.at < l.inFlightTimeoutMs);
    expect(inFlight.length).toBeLessThanOrEqual(l.maxConcurrent);
    expect(admitted.filter((x) => x.at > now - 60_000).length).toBeLessThanOrEqual(l.maxPerMinute);
    expect(admitted.length).toBeLessThanOrEqual(l.maxPerBoot);
    const stsOwners = inFlight.filter((x) => x.sts).map((x) => x.owner);
    expect(new Set(stsOwners).size).toBe(stsOwners.length);
  }

  /** Plays `ops` against the limiter the way the recycler does (settle, admit, record), checking after every admission. */
  function play(l: RecycleLimits, ops: readonly Op[]): void {
    let s = initialLimiterState('b');
    let now = T0;
    let seq = 0;
    const live = new Set<string>();
    const admitted: Admitted[] = [];
    for (const o of ops) {
      if (o.op === 'advance') {
        now += o.ms;
        continue;
      }
      if (o.op === 'gone') {
        const uids = [...live];
        live.delete(uids[o.pick % Math.max(uids.length, 1)] ?? '');
        continue;
      }
      const uid = `u${seq++}`;
      live.add(uid);
      const ownerKind = o.sts ? 'StatefulSet' : 'ReplicaSet';
      const r: RecycleRequest = {
        podUid: uid,
        podKey: uid,
        podCreatedMs: now,
        ownerKey: `${ownerKind}/${o.owner}`,
        ownerKind,
      };
      s = settleInFlight(s, live, now, l);
      const a = admitRecycle(s, r, now, l);
      if (!a.ok) continue;
      s = recordRecycle(s, r, a.generation, now);
      admitted.push({ uid, at: now, owner: r.ownerKey, sts: o.sts });
      checkInvariants(l, admitted, live, now);
    }
  }

  it('never more than K in flight, R in any 60 s window, the boot cap in total, one pod per StatefulSet', () => {
    fc.assert(
      fc.property(limitsArb, fc.array(opArb, { maxLength: 120 }), (lim, ops) => {
        play({ ...DEFAULT_RECYCLE_LIMITS, ...lim, maxTriesPerOwner: 1000 }, ops);
      }),
      { numRuns: 400 },
    );
  });

  it('never admits a generation above maxTriesPerOwner', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 120_000 }), fc.integer({ min: -20_000, max: 20_000 })), {
          maxLength: 40,
        }),
        (steps) => {
          const l = { ...DEFAULT_RECYCLE_LIMITS, maxConcurrent: 1000, maxPerMinute: 1000, maxPerBoot: 1000 };
          let s = initialLimiterState('b');
          let now = T0;
          let i = 0;
          for (const [dt, createdOffset] of steps) {
            now += dt;
            const r = req(`p${i++}`, { podCreatedMs: now + createdOffset });
            const a = admitRecycle(s, r, now, l);
            if (a.ok) {
              expect(a.generation).toBeLessThanOrEqual(l.maxTriesPerOwner);
              s = recordRecycle(s, r, a.generation, now);
            } else if (a.denial === 'loop-breaker') {
              s = recordGaveUp(s, r.ownerKey, now);
            }
          }
          for (const r of Object.values(s.owners).flatMap((o) => o.recycles)) {
            expect(r.generation).toBeLessThanOrEqual(l.maxTriesPerOwner);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
