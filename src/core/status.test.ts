import { describe, expect, it } from 'vitest';
import type { NodeGate } from './node-state.ts';
import { buildStatus, type NodeEvent } from './status.ts';
import { renderStatusJson, renderStatusText } from './status-render.ts';

const T0 = Date.parse('2026-05-01T10:00:00Z');
const at = (s: number): number => T0 + s * 1000;

function gate(node: string, over: Partial<NodeGate> = {}): NodeGate {
  return {
    node,
    gate: 'open',
    tainted: false,
    reason: 'DataPathVerified',
    message: 'all checks pass',
    sinceMs: at(0),
    bootId: 'b1',
    verifiedBootId: 'b1',
    readyAtMs: undefined,
    bootSeenAtMs: undefined,
    ...over,
  };
}

const events: NodeEvent[] = [
  // an older boot's closure, before this boot's
  {
    node: 'n1',
    reason: 'DataPathGateClosed',
    action: 'AddTaint',
    note: 'Gate closed: NewBootNotVerified: boot a',
    atMs: at(-3600),
  },
  {
    node: 'n1',
    reason: 'DataPathGateClosed',
    action: 'AddTaint',
    note: 'Gate closed: NewBootNotVerified: boot b1',
    atMs: at(10),
  },
  {
    node: 'n1',
    reason: 'DataPathGateOpened',
    action: 'RemoveTaint',
    note: 'Data path verified',
    atMs: at(22),
  },
  // a later non-boot closure does not count as the boot's start
  {
    node: 'n1',
    reason: 'DataPathGateClosed',
    action: 'AddTaint',
    note: 'Gate closed: KubeProxyRulesMissing: x',
    atMs: at(400),
  },
  {
    node: 'n1',
    reason: 'CrashLoopBackOff',
    action: 'Evict',
    note: 'Pod shop/api-7d9: Evicted by netwarden',
    atMs: at(30),
  },
  {
    node: 'n1',
    reason: 'NotReady',
    action: 'Evict',
    note: 'Pod shop/web-1: Evicted by netwarden',
    atMs: at(31),
  },
  { node: 'n2', reason: 'CrashLoopBackOff', action: 'Evict', note: 'Pod old/p: Evicted', atMs: at(-7200) },
];

describe('buildStatus', () => {
  const rows = buildStatus(
    [
      gate('n2', {
        gate: 'closed',
        tainted: true,
        reason: 'NewBootNotVerified',
        message: 'boot b2 has not been verified yet',
        bootId: 'b2',
        verifiedBootId: 'b2',
        sinceMs: at(500),
      }),
      gate('n1', { readyAtMs: at(22) }),
      gate('n3', { readyAtMs: at(5) }),
      gate('n5', { readyAtMs: at(40), bootSeenAtMs: at(10) }),
      gate('n4', {
        gate: 'none',
        reason: undefined,
        message: undefined,
        sinceMs: undefined,
        verifiedBootId: undefined,
      }),
    ],
    events,
    { nowMs: at(600), recycleWindowMs: 3_600_000 },
  );

  it('sorts by node and measures boot→ready from the boot closure', () => {
    expect(rows.map((r) => r.gate.node)).toEqual(['n1', 'n2', 'n3', 'n4', 'n5']);
    expect(rows[0]?.bootToReadyMs).toBe(12_000);
    // boot-seen-at, when the agent wrote it, wins over the Events
    expect(rows[4]?.bootToReadyMs).toBe(30_000);
    expect(rows[0]?.bootPending).toBe(false);
  });

  it('lists recycles within the window, newest first', () => {
    expect(rows[0]?.recycledPods).toEqual(['shop/web-1', 'shop/api-7d9']);
    expect(rows[0]?.lastRecycleMs).toBe(at(31));
    expect(rows[1]?.recycledPods).toEqual([]);
  });

  it('says pending for an unverified boot, nothing for a node without agent', () => {
    expect(rows[1]).toMatchObject({ bootPending: true, bootToReadyMs: undefined });
    expect(rows[2]).toMatchObject({ bootPending: false, bootToReadyMs: undefined });
    expect(rows[3]).toMatchObject({ bootPending: false, bootToReadyMs: undefined });
  });

  it('renders a table and the reasons of the gated', () => {
    expect(renderStatusText(rows, at(600))).toBe(
      [
        'NODE   GATE     REASON               SINCE   BOOT→READY   RECYCLES',
        'n1     open     DataPathVerified     10m     12s          2 (last 9m ago)',
        'n2     closed   NewBootNotVerified   100s    pending      0',
        'n3     open     DataPathVerified     10m     -            0',
        'n4     none     -                    -       -            0',
        'n5     open     DataPathVerified     10m     30s          0',
        '',
        'Not verified:',
        '  n2: boot b2 has not been verified yet',
        '',
        'Recent recycles:',
        '  n1: recycled shop/web-1, shop/api-7d9',
        '',
      ].join('\n'),
    );
  });

  it('renders JSON with RFC 3339 times', () => {
    const doc = JSON.parse(renderStatusJson(rows, at(600)));
    expect(doc.nodes[0]).toMatchObject({
      node: 'n1',
      gate: 'open',
      bootToReadySeconds: 12,
      dataPathReadyAt: '2026-05-01T10:00:22.000Z',
      recycles: { count: 2, pods: ['shop/web-1', 'shop/api-7d9'] },
    });
    expect(doc.nodes[3]).toMatchObject({ gate: 'none', reason: null, since: null });
  });

  it('renders an empty cluster', () => {
    expect(renderStatusText([], T0)).toBe('no nodes\n');
  });
});
