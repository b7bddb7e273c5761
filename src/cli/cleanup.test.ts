import { describe, expect, it } from 'vitest';
import { CONDITION_TYPE, GATED_LABEL, TAINT_KEY } from '../core/gate.ts';
import { FakeCluster } from '../kube/fake.ts';
import { cleanupNodes, formatCleaned } from './cleanup.ts';

function cluster(): FakeCluster {
  const fake = new FakeCluster();
  fake.putNode({
    metadata: {
      name: 'gated',
      labels: { [GATED_LABEL]: 'true', keep: 'me' },
      annotations: { 'netwarden.dev/boot-id': 'b1', keep: 'me' },
    },
    spec: {
      taints: [
        { key: TAINT_KEY, effect: 'NoSchedule' },
        { key: 'other', effect: 'NoSchedule' },
      ],
    },
    status: {
      conditions: [
        { type: CONDITION_TYPE, status: 'False' },
        { type: 'Ready', status: 'True' },
      ],
    },
  });
  fake.putNode({ metadata: { name: 'clean', annotations: { keep: 'me' } } });
  // a label left behind without the taint (an agent stopped between two versions)
  fake.putNode({ metadata: { name: 'label-only', labels: { [GATED_LABEL]: 'true' } } });
  return fake;
}

describe('cleanupNodes', () => {
  it("removes exactly netwarden's keys and leaves the rest", async () => {
    const fake = cluster();
    const cleaned = await cleanupNodes(fake);
    expect(cleaned.map((c) => c.node)).toEqual(['gated', 'label-only']);
    const node = fake.nodes.get('gated');
    expect(node?.metadata?.annotations).toEqual({ keep: 'me' });
    expect(node?.metadata?.labels).toEqual({ keep: 'me' });
    expect(fake.nodes.get('label-only')?.metadata?.labels).toEqual({});
    expect(node?.spec?.taints?.map((t) => t.key)).toEqual(['other']);
    expect(node?.status?.conditions?.map((c) => c.type)).toEqual(['Ready']);
    // the label goes in the taint's own request
    expect(fake.writes.map((w) => w.kind)).toEqual(['taint', 'condition-removed', 'annotations', 'taint']);
    // a second run (a retried Job) writes nothing
    expect(await cleanupNodes(fake)).toEqual([]);
    expect(fake.writes).toHaveLength(4);
  });

  it('writes nothing in dry-run and says what it would remove', async () => {
    const fake = cluster();
    const cleaned = await cleanupNodes(fake, { dryRun: true });
    expect(fake.writes).toEqual([]);
    expect(formatCleaned(cleaned, true)).toBe(
      `gated: would remove taint ${TAINT_KEY}; label ${GATED_LABEL}; condition ${CONDITION_TYPE}; annotations netwarden.dev/boot-id\nlabel-only: would remove label ${GATED_LABEL}\n`,
    );
    expect(formatCleaned([], false)).toBe('no node carries netwarden state\n');
  });
});
