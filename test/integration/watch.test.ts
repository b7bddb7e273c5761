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
  it('reads a Node from a protobuf watch as the JSON watch has it (the fields netwarden declares)', async () => {
    const name = 'proto-parity';
    await t.admin.objects.create({
      ...testNode(name),
      metadata: {
        name,
        labels: { 'netwarden.dev/gated': 'true' },
        annotations: { 'netwarden.dev/boot-id': 'b-1' },
      },
      spec: {
        podCIDR: '10.244.7.0/24',
        podCIDRs: ['10.244.7.0/24'],
        taints: [{ key: 'netwarden.dev/datapath-not-ready', effect: 'NoSchedule' }],
      },
    });
    const latest: Record<'protobuf' | 'json', Node | undefined> = { protobuf: undefined, json: undefined };
    const watches = await Promise.all(
      (['protobuf', 'json'] as const).map((encoding) =>
        t.admin.nodes.watch({ onEvent: (e) => void (latest[encoding] = e.object) }, { name, encoding }),
      ),
    );
    try {
      const now = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
      await t.admin.objects.patchNodeStatus(name, {
        conditions: [
          { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'ok', lastHeartbeatTime: now },
          {
            type: 'netwarden.dev/DataPathReady',
            status: 'False',
            reason: 'Checking',
            lastTransitionTime: now,
          },
        ],
        addresses: [{ type: 'InternalIP', address: '10.250.0.77' }],
        capacity: { cpu: '8' },
        nodeInfo: {
          bootID: 'b-1',
          kernelVersion: '6.1.0',
          osImage: 'Debian GNU/Linux 13',
          containerRuntimeVersion: 'containerd://2.1.0',
          kubeletVersion: 'v1.36.5',
          kubeProxyVersion: '',
          machineID: 'm',
          systemUUID: 's',
          operatingSystem: 'linux',
          architecture: 'amd64',
        },
      });
      // The same version through both (the node controller may write the Node meanwhile, too).
      let pb: (Node & { status: Record<string, unknown> }) | undefined;
      let js: (Node & { status: Record<string, unknown> }) | undefined;
      await eventually('both watches at the same version, with the status', async () => {
        [pb, js] = [structuredClone(latest.protobuf), structuredClone(latest.json)] as [typeof pb, typeof js];
        return (
          pb?.status?.nodeInfo?.bootID === 'b-1' &&
          pb.metadata?.resourceVersion === js?.metadata?.resourceVersion
        );
      });
      if (!pb || !js) throw new Error('unreachable: eventually passed');
      // Only the JSON stream carries what the protobuf reader skips: proof each read its own form.
      expect(js.status.capacity).toEqual({ cpu: '8' });
      expect(pb.status.capacity).toBeUndefined();
      expect(pb).toEqual(declared(js));
      expect(pb.spec?.taints).toContainEqual({
        key: 'netwarden.dev/datapath-not-ready',
        effect: 'NoSchedule',
      });
      expect(pb.status?.conditions?.map((c) => c.type)).toEqual(['Ready', 'netwarden.dev/DataPathReady']);
    } finally {
      await Promise.all(watches.map((w) => w.stop()));
    }
  });
});

/** A JSON Node cut to the fields core/objects.ts declares, nulls left out: what the protobuf reader returns. */
function declared(n: Node): Node {
  const pick = <T extends object>(o: T | undefined, keys: readonly string[]): T | undefined => {
    if (o === undefined) return undefined;
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      const v = (o as Record<string, unknown>)[k];
      if (v !== undefined && v !== null) out[k] = v;
    }
    return out as T;
  };
  const meta = ['name', 'generateName', 'namespace', 'uid', 'resourceVersion', 'labels', 'annotations'];
  const info = [
    'bootID',
    'kernelVersion',
    'osImage',
    'containerRuntimeVersion',
    'kubeletVersion',
    'kubeProxyVersion',
  ];
  const cond = ['type', 'status', 'lastHeartbeatTime', 'lastTransitionTime', 'reason', 'message'];
  return {
    apiVersion: n.apiVersion ?? '(none)',
    kind: n.kind ?? '(none)',
    metadata: { ...pick(n.metadata, [...meta, 'ownerReferences', 'creationTimestamp', 'deletionTimestamp']) },
    spec: pick(n.spec, ['taints', 'podCIDR', 'podCIDRs', 'unschedulable']) ?? {},
    status: {
      ...pick(n.status, ['addresses']),
      conditions: (n.status?.conditions ?? []).map((c) => pick(c, cond) as NonNullable<typeof c>),
      nodeInfo: pick(n.status?.nodeInfo, info) as NonNullable<NonNullable<Node['status']>['nodeInfo']>,
    },
  };
}
