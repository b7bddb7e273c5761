/**
 * The agent's watches read protobuf (src/kube/proto-*.ts); this compares each kind, on a real API
 * server, with the same watch read as JSON: the protobuf object must equal the JSON one cut to the
 * fields core/objects.ts declares. Only the JSON form carries a field the protobuf reader skips —
 * proof that each watch really read its own encoding.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EndpointSlice, Node, Service } from '../../src/core/objects.ts';
import type { WatchEncoding } from '../../src/kube/watch.ts';
import {
  eventually,
  startTestControlPlane,
  type TestControlPlane,
  testNode,
} from '../support/control-plane.ts';

/** A shape: `true` keeps a field as it is (nulls dropped), an object keeps the fields it names. */
type Shape = { readonly [field: string]: true | Shape };

const META: Shape = {
  name: true,
  generateName: true,
  namespace: true,
  uid: true,
  resourceVersion: true,
  labels: true,
  annotations: true,
  ownerReferences: true,
  creationTimestamp: true,
  deletionTimestamp: true,
};
const NODE: Shape = {
  apiVersion: true,
  kind: true,
  metadata: META,
  spec: { taints: true, podCIDR: true, podCIDRs: true, unschedulable: true },
  status: {
    conditions: {
      type: true,
      status: true,
      lastHeartbeatTime: true,
      lastTransitionTime: true,
      reason: true,
      message: true,
    },
    addresses: true,
    nodeInfo: {
      bootID: true,
      kernelVersion: true,
      osImage: true,
      containerRuntimeVersion: true,
      kubeletVersion: true,
      kubeProxyVersion: true,
    },
  },
};
const SERVICE: Shape = {
  apiVersion: true,
  kind: true,
  metadata: META,
  spec: {
    type: true,
    clusterIP: true,
    clusterIPs: true,
    ports: true,
    selector: true,
    internalTrafficPolicy: true,
    externalTrafficPolicy: true,
    ipFamilies: true,
    sessionAffinity: true,
    externalName: true,
  },
};
const SLICE: Shape = {
  apiVersion: true,
  kind: true,
  metadata: META,
  addressType: true,
  endpoints: {
    addresses: true,
    conditions: true,
    nodeName: true,
    zone: true,
    hostname: true,
    hints: true,
    targetRef: { kind: true, name: true, namespace: true, uid: true },
  },
  ports: true,
};

/** `value` cut to `shape` (arrays element by element), nulls and absent fields left out. */
function cut(value: unknown, shape: Shape): unknown {
  if (Array.isArray(value)) return value.map((v) => cut(v, shape));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(shape)) {
    const v = (value as Record<string, unknown>)[k];
    if (v === undefined || v === null) continue;
    out[k] = s === true ? v : cut(v, s);
  }
  return out;
}

type Watched = { metadata?: { name?: string; resourceVersion?: string } };
type Latest<T> = Record<WatchEncoding, T | undefined>;

/**
 * Waits until both watches hold `name` at the same resourceVersion and `ready` holds for it (other
 * controllers may write the object meanwhile), then returns both (copies).
 */
async function bothAtOneVersion<T extends Watched>(
  latest: Latest<T>,
  ready: (o: T) => boolean,
): Promise<[T, T]> {
  let pair: [T | undefined, T | undefined] = [undefined, undefined];
  await eventually('both watches at the same version', async () => {
    pair = [structuredClone(latest.protobuf), structuredClone(latest.json)];
    const [pb, js] = pair;
    return !!pb && !!js && ready(pb) && pb.metadata?.resourceVersion === js.metadata?.resourceVersion;
  });
  return pair as [T, T];
}

/** Keeps the latest object called `name` from each encoding's events. */
function latestOf<T extends Watched>(
  name: string,
): { latest: Latest<T>; onEvent: (enc: WatchEncoding) => (e: { object: T }) => void } {
  const latest: Latest<T> = { protobuf: undefined, json: undefined };
  return {
    latest,
    onEvent: (enc) => (e) => {
      if (e.object.metadata?.name === name) latest[enc] = e.object;
    },
  };
}

const ENCODINGS: readonly WatchEncoding[] = ['protobuf', 'json'];

describe('protobuf watches read what JSON watches read', () => {
  let t: TestControlPlane;
  beforeAll(async () => {
    t = await startTestControlPlane();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a Node', async () => {
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
    const { latest, onEvent } = latestOf<Node>(name);
    const watches = await Promise.all(
      ENCODINGS.map((encoding) => t.admin.nodes.watch({ onEvent: onEvent(encoding) }, { name, encoding })),
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
      const [pb, js] = await bothAtOneVersion(latest, (n) => n.status?.nodeInfo?.bootID === 'b-1');
      expect((js.status as Record<string, unknown>).capacity).toEqual({ cpu: '8' });
      expect((pb.status as Record<string, unknown>).capacity).toBeUndefined();
      expect(pb).toEqual(cut(js, NODE));
      expect(pb.spec?.taints).toContainEqual({
        key: 'netwarden.dev/datapath-not-ready',
        effect: 'NoSchedule',
      });
      expect(pb.status?.conditions?.map((c) => c.type)).toEqual(['Ready', 'netwarden.dev/DataPathReady']);
    } finally {
      await Promise.all(watches.map((w) => w.stop()));
    }
  });

  it('a Service and its EndpointSlice', async () => {
    const name = 'proto-parity';
    const services = latestOf<Service>(name);
    const slices = latestOf<EndpointSlice>(`${name}-abc`);
    const watches = await Promise.all([
      ...ENCODINGS.map((encoding) =>
        t.admin.services.watchServices({ onEvent: services.onEvent(encoding) }, { encoding }),
      ),
      ...ENCODINGS.map((encoding) =>
        t.admin.services.watchEndpointSlices({ onEvent: slices.onEvent(encoding) }, { encoding }),
      ),
    ]);
    try {
      await t.admin.objects.create({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name, namespace: 'default', labels: { app: 'parity' } },
        spec: {
          selector: { app: 'parity' },
          sessionAffinity: 'ClientIP',
          internalTrafficPolicy: 'Local',
          ports: [
            { name: 'http', port: 80, targetPort: 'http-web', protocol: 'TCP', appProtocol: 'http' },
            { name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP' },
          ],
        },
      });
      await t.admin.objects.create({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: `${name}-abc`,
          namespace: 'default',
          labels: { 'kubernetes.io/service-name': name },
        },
        addressType: 'IPv4',
        endpoints: [
          {
            addresses: ['10.244.1.5'],
            conditions: { ready: true, serving: true, terminating: false },
            nodeName: 'node-a',
            zone: 'eu-west-1a',
            hostname: 'pod-a',
            hints: { forZones: [{ name: 'eu-west-1a' }] },
            targetRef: { kind: 'Pod', name: 'pod-a', namespace: 'default', uid: 'u-1' },
          },
          { addresses: ['10.244.2.6'], conditions: { ready: false } },
        ],
        ports: [
          { name: 'http', port: 8080, protocol: 'TCP', appProtocol: 'http' },
          { name: 'dns', port: 5353, protocol: 'UDP' },
        ],
      });
      const [pbSvc, jsSvc] = await bothAtOneVersion(services.latest, (s) => !!s.spec?.clusterIP);
      expect((jsSvc as { status?: unknown }).status).toBeDefined();
      expect((pbSvc as { status?: unknown }).status).toBeUndefined();
      expect(pbSvc).toEqual(cut(jsSvc, SERVICE));
      expect(pbSvc.spec?.ports?.map((p) => p.targetPort)).toEqual(['http-web', 5353]);

      const [pbSlice, jsSlice] = await bothAtOneVersion(slices.latest, () => true);
      const managed = (o: unknown) => (o as { metadata: { managedFields?: unknown } }).metadata.managedFields;
      expect(managed(jsSlice)).toBeDefined();
      expect(managed(pbSlice)).toBeUndefined();
      expect(pbSlice).toEqual(cut(jsSlice, SLICE));
      expect(pbSlice.endpoints?.map((e) => e.conditions)).toEqual([
        { ready: true, serving: true, terminating: false },
        { ready: false },
      ]);
    } finally {
      await Promise.all(watches.map((w) => w.stop()));
    }
  });
});
