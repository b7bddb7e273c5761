/** The reflector against a real API server that is restarted under it. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Node } from '../../src/core/objects.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { loadKubeConfig } from '../../src/kube/config.ts';
import { KubeNodeApi } from '../../src/kube/nodes.ts';
import type { WatchEvent } from '../../src/kube/types.ts';
import type { Reflector } from '../../src/kube/watch.ts';
import {
  eventually,
  startTestControlPlane,
  type TestControlPlane,
  testNode,
} from '../support/control-plane.ts';

describe('watch', () => {
  let t: TestControlPlane;
  let reflector: Reflector<Node> | undefined;

  beforeAll(async () => {
    t = await startTestControlPlane();
  });
  afterAll(async () => {
    await reflector?.stop();
    await t?.close();
  });

  it('survives an API server restart and resumes without losing an event', async () => {
    const seen: WatchEvent<Node>[] = [];
    const errors: string[] = [];
    await t.admin.objects.create(testNode('before'));
    reflector = await t.admin.nodes.watch({ onEvent: (e) => seen.push(e), onError: (m) => errors.push(m) });
    await t.admin.objects.create(testNode('while-up'));
    await eventually('ADDED while-up', async () => seen.some((e) => e.object.metadata?.name === 'while-up'));

    await t.cp.stopApiServer();
    await eventually('the watch to notice the outage', async () => errors.length > 0, 15_000);
    await t.cp.startApiServer();
    // Changes made right after the restart, likely before the reflector reconnects.
    await t.admin.objects.create(testNode('after-restart'));
    await t.admin.nodes.setAnnotations('before', { changed: 'yes' });
    await t.admin.objects.delete(testNode('while-up'));

    await eventually('all changes after the restart', async () => {
      const names = seen.map((e) => `${e.type} ${e.object.metadata?.name}`);
      return (
        names.includes('ADDED after-restart') &&
        names.includes('MODIFIED before') &&
        names.includes('DELETED while-up')
      );
    });
    const byName = new Map(reflector.snapshot().map((n) => [n.metadata?.name, n]));
    expect([...byName.keys()].sort()).toEqual(['after-restart', 'before']);
    expect(byName.get('before')?.metadata?.annotations?.changed).toBe('yes');
    expect(reflector.stats().resumes).toBeGreaterThanOrEqual(1);
    // every object's ADDED was seen exactly once
    const added = seen.filter((e) => e.type === 'ADDED').map((e) => e.object.metadata?.name);
    expect(added.sort()).toEqual(['after-restart', 'before', 'while-up']);
  });

  it('lists page by page, each object through keep as its page arrives, then watches from the list', async () => {
    const client = new KubeClient(loadKubeConfig({ kubeconfigPath: t.cp.adminKubeconfig }), {
      listPageSize: 2,
    });
    const nodes = new KubeNodeApi(client);
    const label = 'netwarden.dev/paged';
    for (const name of ['p1', 'p2', 'p3', 'p4', 'p5'])
      await t.admin.objects.create({ ...testNode(name), metadata: { name, labels: { [label]: 'yes' } } });
    const kept: string[] = [];
    const seen: WatchEvent<Node>[] = [];
    const before = client.stats().requests;
    const paged = await nodes.watch(
      {
        keep: (n) => {
          kept.push(n.metadata?.name ?? '');
          return { metadata: n.metadata ?? {} }; // only the metadata survives
        },
        onEvent: (e) => seen.push(e),
      },
      { labelSelector: `${label}=yes` },
    );
    try {
      expect(client.stats().requests - before).toBe(3); // 2 + 2 + 1
      expect(kept).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
      expect(paged.snapshot().map((n) => Object.keys(n).join())).toEqual(Array(5).fill('metadata'));
      await t.admin.nodes.setAnnotations('p3', { touched: 'yes' });
      await eventually('MODIFIED p3 through the watch', async () =>
        seen.some((e) => e.type === 'MODIFIED' && e.object.metadata?.annotations?.touched === 'yes'),
      );
      expect(kept.at(-1)).toBe('p3');
      expect(paged.stats()).toMatchObject({ relists: 0, resumes: 0 });
    } finally {
      await paged.stop();
    }
  });
});
