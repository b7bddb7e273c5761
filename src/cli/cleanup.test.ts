import { describe, expect, it } from 'vitest';
import { CONDITION_TYPE, TAINT_KEY } from '../core/gate.ts';
import { FakeCluster } from '../kube/fake.ts';
import { cleanupNodes, formatCleaned } from './cleanup.ts';

function cluster(): FakeCluster {
  const fake = new FakeCluster();
  fake.putNode({
    metadata: { name: 'gated', annotations: { 'netwarden.dev/boot-id': 'b1', keep: 'me' } },
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
  return fake;
}

describe('cleanupNodes', () => {
  it("removes exactly netwarden's keys and leaves the rest", async () => {
    const fake = cluster();
    const cleaned = await cleanupNodes(fake);
    expect(cleaned.map((c) => c.node)).toEqual(['gated']);
    const node = fake.nodes.get('gated');
    expect(node?.metadata?.annotations).toEqual({ keep: 'me' });
    expect(node?.spec?.taints?.map((t) => t.key)).toEqual(['other']);
    expect(node?.status?.conditions?.map((c) => c.type)).toEqual(['Ready']);
    expect(fake.writes.map((w) => w.kind)).toEqual(['taint', 'condition-removed', 'annotations']);
    // a second run (a retried Job) writes nothing
    expect(await cleanupNodes(fake)).toEqual([]);
    expect(fake.writes).toHaveLength(3);
  });

  it('writes nothing in dry-run and says what it would remove', async () => {
    const fake = cluster();
    const cleaned = await cleanupNodes(fake, { dryRun: true });
    expect(fake.writes).toEqual([]);
    expect(formatCleaned(cleaned, true)).toBe(
      `gated: would remove taint ${TAINT_KEY}; condition ${CONDITION_TYPE}; annotations netwarden.dev/boot-id\n`,
    );
    expect(formatCleaned([], false)).toBe('no node carries netwarden state\n');
  });
});
