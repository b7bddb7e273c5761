/** The reflector against a real API server that is restarted under it. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Node } from '../../src/core/objects.ts';
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
});
