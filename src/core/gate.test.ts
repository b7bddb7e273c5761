import { describe, expect, it } from 'vitest';
import type { Verdict } from './check.ts';
import {
  BOOT_ID_ANNOTATION,
  breakerAllows,
  decideGate,
  type GateMemory,
  type GateNodeView,
  type GatePolicy,
  initialGateMemory,
  READY_AT_ANNOTATION,
} from './gate.ts';

const policy: GatePolicy = {
  mode: 'continuous',
  openAfterPasses: 2,
  closeAfterFailures: 3,
  taint: true,
  maxGatedFraction: 1 / 3,
  maxBootHoldMs: 15 * 60_000,
  bootHoldGraceMs: 5 * 60_000,
};
const OK: Verdict = { status: 'Ok', reason: 'DataPathVerified', message: 'all good' };
const FAIL: Verdict = { status: 'Failing', reason: 'KubeProxyRulesMissing', message: '3 ports missing' };
const UNKNOWN: Verdict = {
  status: 'Unknown',
  reason: 'IptablesSaveMissing',
  message: 'iptables-save not found',
};
const T = Date.parse('2026-03-01T10:00:00.250Z');
const others = (n: number): string[] => Array.from({ length: n }, (_, i) => `node-${i}`);
const view = (selected: number, gated: number, self = 'node-z') => ({
  self,
  selectedNodes: selected,
  otherGatedNonBoot: others(gated),
  otherBootHeldPastGrace: [] as string[],
});
const cluster = view(6, 0);

const verifiedNode: GateNodeView = {
  bootId: 'b1',
  annotatedBootId: 'b1',
  readyAt: '2026-03-01T09:00:00Z',
  bootSeenAt: '2026-03-01T08:59:00Z',
  tainted: false,
  conditionStatus: 'True',
  conditionReason: 'DataPathVerified',
};
const open: GateMemory = { closed: false, passes: 5, failures: 0, breakerHeld: false, bootClosure: false };
const closed: GateMemory = { closed: true, passes: 0, failures: 0, breakerHeld: false, bootClosure: false };

/** Runs verdicts in sequence and returns every decision. */
function play(node: GateNodeView, memory: GateMemory, verdicts: Verdict[], c = cluster, p = policy) {
  const out = [];
  let m = memory;
  for (const v of verdicts) {
    const d = decideGate(p, node, v, m, c, T);
    out.push(d);
    m = d.memory;
  }
  return out;
}

describe('decideGate', () => {
  it('closes at once on a new boot, before any check, and clears datapath-ready-at', () => {
    const d = decideGate(policy, { ...verifiedNode, bootId: 'b2' }, OK, open, cluster, T);
    expect(d).toMatchObject({
      taint: 'present',
      annotations: { [BOOT_ID_ANNOTATION]: 'b2', [READY_AT_ANNOTATION]: null },
      condition: { status: 'False', reason: 'NewBootNotVerified' },
      transition: 'closed-new-boot',
      memory: { closed: true, passes: 0 },
    });
  });

  it('closes a new boot even when the breaker is full: reboots are not cluster faults', () => {
    const d = decideGate(policy, { ...verifiedNode, bootId: 'b2' }, FAIL, open, view(3, 3), T);
    expect(d.taint).toBe('present');
  });

  it('opens after N passes and stamps datapath-ready-at once per boot', () => {
    const node = { ...verifiedNode, readyAt: undefined, tainted: true, conditionStatus: 'False' as const };
    const [d1, d2] = play(node, closed, [OK, OK]);
    expect(d1).toMatchObject({
      taint: 'present',
      condition: { status: 'False', reason: 'VerifyingDataPath' },
      transition: undefined,
    });
    expect(d2).toMatchObject({
      taint: 'absent',
      condition: { status: 'True' },
      transition: 'opened',
      annotations: { [READY_AT_ANNOTATION]: '2026-03-01T10:00:00.250Z' },
    });
    // a later re-opening on the same boot keeps the first verification time
    const again = play({ ...node, readyAt: '2026-03-01T09:59:00Z' }, closed, [OK, OK])[1];
    expect(again?.annotations).toEqual({});
  });

  it('a failure resets the pass count (hysteresis)', () => {
    const ds = play({ ...verifiedNode, tainted: true }, closed, [OK, FAIL, OK, OK]);
    expect(ds.map((d) => d.transition)).toEqual([undefined, undefined, undefined, 'opened']);
    expect(ds[1]?.condition.reason).toBe('KubeProxyRulesMissing');
  });

  it('re-closes an open gate only after M consecutive failures in continuous mode', () => {
    const ds = play(verifiedNode, open, [FAIL, FAIL, OK, FAIL, FAIL, FAIL]);
    expect(ds.map((d) => d.transition)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      'closed',
    ]);
    expect(ds[5]).toMatchObject({
      taint: 'present',
      condition: { status: 'False', reason: 'KubeProxyRulesMissing' },
    });
    expect(ds[0]?.condition.status).toBe('True');
  });

  it('never re-closes in bootstrap mode but says so in the message', () => {
    const ds = play(verifiedNode, open, [FAIL, FAIL, FAIL, FAIL], cluster, { ...policy, mode: 'bootstrap' });
    expect(ds.every((d) => d.taint === 'keep' && d.condition.status === 'True')).toBe(true);
    expect(ds[3]?.condition.message).toContain('bootstrap mode does not re-close');
  });

  it('Unknown moves nothing: condition Unknown, taint kept, counters kept', () => {
    const m = { closed: true, passes: 1, failures: 0, breakerHeld: false, bootClosure: false };
    const d = decideGate(policy, { ...verifiedNode, tainted: true }, UNKNOWN, m, cluster, T);
    expect(d).toMatchObject({
      taint: 'keep',
      condition: { status: 'Unknown', reason: 'IptablesSaveMissing' },
      memory: m,
      transition: undefined,
    });
    const onOpen = decideGate(policy, verifiedNode, UNKNOWN, open, cluster, T);
    expect(onOpen.taint).toBe('keep');
    expect(onOpen.memory).toBe(open);
  });

  it('the breaker holds the taint back when too many nodes are gated, and applies it once allowed', () => {
    const full = view(4, 1);
    const ds = play(verifiedNode, open, [FAIL, FAIL, FAIL], full);
    expect(ds[2]).toMatchObject({
      taint: 'keep',
      condition: { status: 'False', reason: 'BreakerOpen' },
      transition: 'breaker-held',
      memory: { breakerHeld: true },
    });
    expect(ds[2]?.condition.message).toContain('2 of 4 nodes would be gated');
    const later = decideGate(policy, verifiedNode, FAIL, ds[2]?.memory as GateMemory, view(4, 0), T);
    expect(later).toMatchObject({ taint: 'present', transition: 'closed', memory: { breakerHeld: false } });
  });

  it('corrects a simultaneous over-commit: only the first nodes by name keep their taint', () => {
    const tainted = {
      ...verifiedNode,
      tainted: true,
      conditionStatus: 'False' as const,
      conditionReason: 'KubeProxyRulesMissing',
    };
    const racing: GateMemory = {
      closed: true,
      passes: 0,
      failures: 3,
      breakerHeld: false,
      bootClosure: false,
    };
    // node-b and node-c both tainted at once in a 4-node cluster (capacity 1): node-b keeps it.
    const b = decideGate(
      policy,
      tainted,
      FAIL,
      racing,
      { self: 'node-b', selectedNodes: 4, otherGatedNonBoot: ['node-c'], otherBootHeldPastGrace: [] },
      T,
    );
    const c = decideGate(
      policy,
      tainted,
      FAIL,
      racing,
      { self: 'node-c', selectedNodes: 4, otherGatedNonBoot: ['node-b'], otherBootHeldPastGrace: [] },
      T,
    );
    expect(b).toMatchObject({ taint: 'present', condition: { reason: 'KubeProxyRulesMissing' } });
    expect(c).toMatchObject({
      taint: 'absent',
      condition: { status: 'False', reason: 'BreakerOpen' },
      memory: { breakerHeld: true },
    });
    // a boot closure within its grace is never released by the breaker
    const boot = decideGate(
      policy,
      tainted,
      FAIL,
      { ...racing, bootClosure: true },
      { self: 'node-c', selectedNodes: 4, otherGatedNonBoot: ['node-b'], otherBootHeldPastGrace: [] },
      T,
    );
    expect(boot.taint).toBe('present');
  });

  // --taint=false also takes off a taint netwarden placed earlier (issue 11): the decision says
  // `absent` and the agent writes only when the taint is there.
  it('with --taint=false only the condition changes', () => {
    const ds = play(verifiedNode, open, [FAIL, FAIL, FAIL], cluster, { ...policy, taint: false });
    expect(ds[2]).toMatchObject({ taint: 'absent', condition: { status: 'False' }, transition: 'closed' });
  });
});

describe('breakerAllows', () => {
  it.each([
    [3, 0, true],
    [3, 1, false],
    [4, 1, false],
    [6, 1, true],
    [2, 0, false],
    [0, 0, false],
  ])('%d nodes, %d gated already → %s', (selected, gated, want) => {
    const others = gated;
    expect(breakerAllows(view(selected, others), 1 / 3)).toBe(want);
  });
});

describe('initialGateMemory', () => {
  it('rebuilds from the Node: unverified boot or our taint means closed', () => {
    expect(initialGateMemory(verifiedNode, policy).closed).toBe(false);
    expect(initialGateMemory({ ...verifiedNode, bootId: 'b2' }, policy).closed).toBe(true);
    expect(initialGateMemory({ ...verifiedNode, tainted: true }, policy).closed).toBe(true);
    expect(initialGateMemory({ ...verifiedNode, readyAt: undefined }, policy).closed).toBe(true);
    expect(
      initialGateMemory(
        { ...verifiedNode, conditionStatus: 'False', conditionReason: 'BreakerOpen' },
        policy,
      ),
    ).toMatchObject({ closed: true, breakerHeld: true });
  });
});

describe('boot hold bounds', () => {
  const boot: GateNodeView = {
    bootId: 'b2',
    annotatedBootId: 'b2',
    readyAt: undefined,
    bootSeenAt: new Date(T - 60_000).toISOString(),
    tainted: true,
    conditionStatus: 'False',
    conditionReason: 'KubeProxyRulesMissing',
  };
  const held: GateMemory = { closed: true, passes: 0, failures: 4, breakerHeld: false, bootClosure: true };
  const at = (msAfterSeen: number) => Date.parse(boot.bootSeenAt as string) + msAfterSeen;

  it('stays closed while failing within --max-boot-hold', () => {
    const d = decideGate(policy, boot, FAIL, held, cluster, at(14 * 60_000));
    expect(d).toMatchObject({ taint: 'present', condition: { status: 'False' }, memory: { closed: true } });
  });

  it('opens past --max-boot-hold whatever the verdict, without datapath-ready-at', () => {
    for (const v of [FAIL, UNKNOWN]) {
      const d = decideGate(policy, boot, v, held, cluster, at(15 * 60_000));
      expect(d).toMatchObject({
        taint: 'absent',
        condition: { status: 'True', reason: 'BootHoldExpired' },
        transition: 'boot-hold-expired',
        memory: { closed: false },
      });
      expect(d.annotations).toEqual({});
    }
  });

  it('is not re-closed on the same boot after expiring, until verified once; verification stamps ready-at', () => {
    const expired = decideGate(policy, boot, FAIL, held, cluster, at(15 * 60_000));
    const node = {
      ...boot,
      tainted: false,
      conditionStatus: 'True' as const,
      conditionReason: 'BootHoldExpired',
    };
    const later = play(node, expired.memory, [FAIL, FAIL, FAIL, FAIL]);
    for (const d of later)
      expect(d).toMatchObject({ taint: 'keep', condition: { status: 'True', reason: 'BootHoldExpired' } });
    const [, verified] = play(node, expired.memory, [OK, OK]);
    expect(verified).toMatchObject({ transition: 'opened', condition: { reason: 'DataPathVerified' } });
    expect(verified?.annotations[READY_AT_ANNOTATION]).toBe(new Date(T).toISOString());
  });

  it('a boot hold past its grace counts against the breaker (full-cluster restart)', () => {
    // 6 nodes all rebooted and held for 6 min: capacity 2, the first two by name keep their taint.
    const all = ['node-a', 'node-b', 'node-c', 'node-d', 'node-e', 'node-f'];
    const decide = (self: string) =>
      decideGate(
        policy,
        boot,
        FAIL,
        held,
        {
          self,
          selectedNodes: 6,
          otherGatedNonBoot: [],
          otherBootHeldPastGrace: all.filter((n) => n !== self),
        },
        at(6 * 60_000),
      );
    expect(decide('node-a').taint).toBe('present');
    expect(decide('node-b').taint).toBe('present');
    expect(decide('node-c')).toMatchObject({ taint: 'absent', condition: { reason: 'BreakerOpen' } });
    // within the grace, the same cluster view holds every node
    const early = decideGate(
      policy,
      boot,
      FAIL,
      held,
      { self: 'node-f', selectedNodes: 6, otherGatedNonBoot: [], otherBootHeldPastGrace: all.slice(0, 5) },
      at(4 * 60_000),
    );
    expect(early.taint).toBe('present');
  });

  it('a new boot stamps boot-seen-at; a held boot without it gets it written once', () => {
    const d = decideGate(policy, { ...verifiedNode, bootId: 'b3' }, OK, open, cluster, T);
    expect(d.annotations['netwarden.dev/boot-seen-at']).toBe(new Date(T).toISOString());
    const repaired = decideGate(policy, { ...boot, bootSeenAt: undefined }, FAIL, held, cluster, T);
    expect(repaired.annotations).toEqual({ 'netwarden.dev/boot-seen-at': new Date(T).toISOString() });
  });

  it('--taint=false takes off a taint placed earlier, on an open gate too', () => {
    const d = decideGate(
      { ...policy, taint: false },
      { ...verifiedNode, tainted: true },
      OK,
      open,
      cluster,
      T,
    );
    expect(d.taint).toBe('absent');
  });
});
