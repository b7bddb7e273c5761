import { describe, expect, it } from 'vitest';
import { annotationsPatch, conditionPatch, rfc3339Seconds, taintPatch } from './node-patches.ts';
import type { Node } from './types.ts';

const TAINT = { key: 'netwarden.dev/datapath-unready', effect: 'NoSchedule' };

function node(
  partial: {
    taints?: Node['spec'] extends infer S ? (S extends { taints?: infer T } ? T : never) : never;
    conditions?: unknown[];
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  } = {},
): Node {
  return {
    metadata: {
      name: 'n1',
      resourceVersion: '42',
      ...(partial.annotations ? { annotations: partial.annotations } : {}),
      ...(partial.labels ? { labels: partial.labels } : {}),
    },
    spec: partial.taints === undefined ? {} : { taints: partial.taints },
    status: {
      conditions: (partial.conditions ?? []) as NonNullable<NonNullable<Node['status']>['conditions']>,
    },
  };
}

describe('taintPatch', () => {
  it('adds the taints field under a resourceVersion test when the node has none', () => {
    expect(taintPatch(node(), TAINT, 'present')).toEqual([
      { op: 'test', path: '/metadata/resourceVersion', value: '42' },
      { op: 'add', path: '/spec/taints', value: [TAINT] },
    ]);
  });

  it('appends to existing taints under a test of the list as read', () => {
    const other = {
      key: 'node.kubernetes.io/unreachable',
      effect: 'NoExecute',
      timeAdded: new Date('2026-01-01T00:00:05.123Z'),
    };
    const ops = taintPatch(node({ taints: [other] }), TAINT, 'present');
    expect(ops).toEqual([
      {
        op: 'test',
        path: '/spec/taints',
        value: [{ key: other.key, effect: other.effect, timeAdded: '2026-01-01T00:00:05Z' }],
      },
      {
        op: 'replace',
        path: '/spec/taints',
        value: [{ key: other.key, effect: other.effect, timeAdded: '2026-01-01T00:00:05Z' }, TAINT],
      },
    ]);
  });

  it.each([
    ['present, already there', [TAINT], 'present'],
    ['absent, not there', [], 'absent'],
    ['absent, no taints field', undefined, 'absent'],
  ] as const)('is a no-op when %s', (_name, taints, want) => {
    expect(taintPatch(node(taints === undefined ? {} : { taints: [...taints] }), TAINT, want)).toBeNull();
  });

  it('removes only the taint with the same key and effect', () => {
    const sameKeyOtherEffect = { key: TAINT.key, effect: 'NoExecute' };
    const ops = taintPatch(node({ taints: [TAINT, sameKeyOtherEffect] }), TAINT, 'absent');
    expect(ops?.[1]).toEqual({ op: 'replace', path: '/spec/taints', value: [sameKeyOtherEffect] });
  });

  it('keeps a taint value', () => {
    const ops = taintPatch(node(), { ...TAINT, value: 'boot' }, 'present');
    expect(ops?.[1]).toEqual({ op: 'add', path: '/spec/taints', value: [{ ...TAINT, value: 'boot' }] });
  });
});

describe('taintPatch with a following label', () => {
  const LABEL = 'netwarden.dev/gated';

  it('adds the label in the same patch as the taint', () => {
    expect(taintPatch(node({ labels: { a: 'b' } }), TAINT, 'present', LABEL)).toEqual([
      { op: 'test', path: '/metadata/resourceVersion', value: '42' },
      { op: 'add', path: '/spec/taints', value: [TAINT] },
      { op: 'add', path: '/metadata/labels/netwarden.dev~1gated', value: 'true' },
    ]);
    // a node without any label gets the labels map
    expect(taintPatch(node(), TAINT, 'present', LABEL)?.[2]).toEqual({
      op: 'add',
      path: '/metadata/labels',
      value: { [LABEL]: 'true' },
    });
  });

  it('removes the label with the taint, under a test of its value', () => {
    const ops = taintPatch(node({ taints: [TAINT], labels: { [LABEL]: 'true' } }), TAINT, 'absent', LABEL);
    expect(ops?.slice(2)).toEqual([
      { op: 'test', path: '/metadata/labels/netwarden.dev~1gated', value: 'true' },
      { op: 'remove', path: '/metadata/labels/netwarden.dev~1gated' },
    ]);
  });

  it('brings only the label in step when the taint already is', () => {
    expect(taintPatch(node({ taints: [TAINT] }), TAINT, 'present', LABEL)).toEqual([
      { op: 'add', path: '/metadata/labels', value: { [LABEL]: 'true' } },
    ]);
    expect(taintPatch(node({ labels: { [LABEL]: 'true' } }), TAINT, 'absent', LABEL)).toEqual([
      { op: 'test', path: '/metadata/labels/netwarden.dev~1gated', value: 'true' },
      { op: 'remove', path: '/metadata/labels/netwarden.dev~1gated' },
    ]);
    expect(
      taintPatch(node({ taints: [TAINT], labels: { [LABEL]: 'true' } }), TAINT, 'present', LABEL),
    ).toBeNull();
    expect(taintPatch(node({ labels: { x: 'y' } }), TAINT, 'absent', LABEL)).toBeNull();
  });
});

describe('conditionPatch', () => {
  const T0 = Date.parse('2026-03-01T10:00:00Z');
  const want = {
    type: 'netwarden.dev/DataPathReady',
    status: 'False',
    reason: 'KubeProxyRulesMissing',
    message: '3 missing',
  } as const;

  it('sets both times to now for a new condition', () => {
    const p = conditionPatch(node(), want, T0);
    expect(p?.status.conditions[0]).toMatchObject({
      ...want,
      lastTransitionTime: '2026-03-01T10:00:00Z',
      lastHeartbeatTime: '2026-03-01T10:00:00Z',
    });
  });

  it('keeps lastTransitionTime when only the message changes', () => {
    const existing = {
      ...want,
      message: 'old',
      lastTransitionTime: new Date(T0 - 60_000),
      lastHeartbeatTime: new Date(T0 - 60_000),
    };
    const p = conditionPatch(node({ conditions: [existing] }), want, T0);
    expect(p?.status.conditions[0]?.lastTransitionTime).toBe('2026-03-01T09:59:00Z');
    expect(p?.status.conditions[0]?.lastHeartbeatTime).toBe('2026-03-01T10:00:00Z');
  });

  it('moves lastTransitionTime on a status flip', () => {
    const existing = { ...want, status: 'True', lastTransitionTime: '2026-03-01T09:00:00Z' };
    const p = conditionPatch(node({ conditions: [existing] }), want, T0);
    expect(p?.status.conditions[0]?.lastTransitionTime).toBe('2026-03-01T10:00:00Z');
  });

  it('writes nothing when unchanged, however old its last write (no heartbeat)', () => {
    const existing = {
      ...want,
      lastTransitionTime: '2026-03-01T09:00:00Z',
      lastHeartbeatTime: '2026-02-01T09:59:00Z',
    };
    expect(conditionPatch(node({ conditions: [existing] }), want, T0)).toBeNull();
    expect(conditionPatch(node({ conditions: [existing] }), want, T0 + 30 * 86_400_000)).toBeNull();
  });
});

describe('annotationsPatch', () => {
  it('patches only keys that differ, null removes', () => {
    const n = node({ annotations: { a: '1', b: '2' } });
    expect(annotationsPatch(n, { a: '1', b: '3', c: null, d: '4' })).toEqual({
      metadata: { annotations: { b: '3', d: '4' } },
    });
    expect(annotationsPatch(n, { a: null })).toEqual({ metadata: { annotations: { a: null } } });
    expect(annotationsPatch(n, { a: '1', zz: null })).toBeNull();
  });
});

describe('rfc3339Seconds', () => {
  it('drops sub-second precision and always uses Z', () => {
    expect(rfc3339Seconds('2026-01-01T01:02:03.999+02:00')).toBe('2025-12-31T23:02:03Z');
  });
});
