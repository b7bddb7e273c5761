import { describe, expect, it } from 'vitest';
import { CONDITION_TYPE, TAINT_KEY } from './gate.ts';
import { isClean, netwardenKeys, nodeGate } from './node-state.ts';
import type { Node } from './objects.ts';

const gated: Node = {
  metadata: {
    name: 'n1',
    labels: { 'netwarden.dev/gated': 'true', 'kubernetes.io/hostname': 'n1' },
    annotations: {
      'netwarden.dev/boot-id': 'b2',
      'netwarden.dev/datapath-ready-at': '2026-05-01T10:00:30Z',
      'example.com/keep': 'x',
    },
  },
  spec: {
    taints: [
      { key: TAINT_KEY, effect: 'NoSchedule' },
      { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' },
    ],
  },
  status: {
    nodeInfo: { bootID: 'b2' } as NonNullable<NonNullable<Node['status']>['nodeInfo']>,
    conditions: [
      { type: 'Ready', status: 'True' },
      {
        type: CONDITION_TYPE,
        status: 'False',
        reason: 'KubeProxyRulesMissing',
        message: 'missing 3 of 10',
        lastTransitionTime: '2026-05-01T10:00:00Z' as unknown as Date,
        lastHeartbeatTime: '2026-05-01T10:01:00Z' as unknown as Date,
      },
    ],
  },
};

describe('netwardenKeys', () => {
  it('finds exactly netwarden taint, label, condition and annotations', () => {
    expect(netwardenKeys(gated)).toEqual({
      taint: true,
      label: true,
      condition: true,
      annotations: ['netwarden.dev/boot-id', 'netwarden.dev/datapath-ready-at'],
    });
    expect(isClean(netwardenKeys(gated))).toBe(false);
  });
  it('ignores our taint key with another effect, and other keys', () => {
    const node: Node = {
      metadata: { name: 'x', annotations: { 'other.dev/netwarden.dev': 'x' } },
      spec: { taints: [{ key: TAINT_KEY, effect: 'NoExecute' }] },
      status: { conditions: [{ type: 'Ready', status: 'True' }] },
    };
    expect(isClean(netwardenKeys(node))).toBe(true);
    expect(isClean(netwardenKeys({}))).toBe(true);
    // a gated label left behind alone is still netwarden's to remove
    expect(isClean(netwardenKeys({ metadata: { labels: { 'netwarden.dev/gated': 'true' } } }))).toBe(false);
  });
});

describe('nodeGate', () => {
  it('reads gate, reason, times and boots off the Node', () => {
    expect(nodeGate(gated)).toEqual({
      node: 'n1',
      gate: 'closed',
      tainted: true,
      reason: 'KubeProxyRulesMissing',
      message: 'missing 3 of 10',
      sinceMs: Date.parse('2026-05-01T10:00:00Z'),
      bootId: 'b2',
      verifiedBootId: 'b2',
      readyAtMs: Date.parse('2026-05-01T10:00:30Z'),
    });
  });
  it.each([
    ['True', 'open'],
    ['Unknown', 'unknown'],
  ] as const)('condition %s is %s', (status, gate) => {
    expect(nodeGate({ status: { conditions: [{ type: CONDITION_TYPE, status }] } }).gate).toBe(gate);
  });
  it('says none without the condition', () => {
    expect(nodeGate({ metadata: { name: 'fresh' } })).toMatchObject({
      node: 'fresh',
      gate: 'none',
      tainted: false,
    });
  });
});
