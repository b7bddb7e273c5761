import { describe, expect, it } from 'vitest';
import type { Endpoint, EndpointSlice, Node, Service } from '../core/objects.ts';
import { expectedServicePorts } from '../netfilter/expected.ts';
import { slimEndpointSlice, slimNode, slimService } from './slim.ts';

const service = {
  metadata: {
    name: 'web',
    namespace: 'shop',
    resourceVersion: '7',
    uid: 'u1',
    labels: { app: 'web', 'service.kubernetes.io/service-proxy-name': 'other' },
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(2000) },
    managedFields: [{ manager: 'kubectl' }],
  },
  spec: {
    type: 'ClusterIP',
    clusterIP: '10.96.3.4',
    clusterIPs: ['10.96.3.4'],
    selector: { app: 'web' },
    ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }],
    internalTrafficPolicy: 'Local',
    sessionAffinity: 'None',
  },
  status: { loadBalancer: {} },
} as unknown as Service;

const slice = {
  metadata: {
    name: 'web-abc',
    namespace: 'shop',
    resourceVersion: '9',
    labels: { 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'x' },
  },
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  endpoints: [
    {
      addresses: ['10.1.0.1'],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: 'n1',
      targetRef: { kind: 'Pod', name: 'web-1', namespace: 'shop', uid: 'p1' },
      hints: { forZones: [{ name: 'a' }] },
      zone: 'a',
    },
  ],
} as unknown as EndpointSlice;

describe('slim objects', () => {
  it('keep what the expected state reads: the same expected ports from slim and full objects', () => {
    const full = {
      services: [service, { ...service, metadata: { ...service.metadata, labels: {} } }],
      endpointSlices: [slice],
      pods: [],
    };
    const slim = {
      services: full.services.map(slimService),
      endpointSlices: full.endpointSlices.map(slimEndpointSlice),
      pods: [],
    };
    // Endpoints and chain names are computed on call, so compare them spelled out.
    const view = (c: typeof full | typeof slim, nodeName: string) =>
      expectedServicePorts(c, { nodeName }).ports.map((p) => ({
        ...p,
        iptablesChain: p.iptablesChain,
        nftChain: p.nftChain,
        endpoints: p.endpoints().map((e) => ({ ...e, iptablesChain: e.iptablesChain, nftChain: e.nftChain })),
      }));
    expect(view(full, 'n1')[0]?.endpoints).toHaveLength(1); // n1 has the Local endpoint, n2 none
    for (const nodeName of ['n1', 'n2']) expect(view(slim, nodeName)).toEqual(view(full, nodeName));
  });

  it('drop annotations, managedFields, selectors, targetRefs; are idempotent', () => {
    const s = slimService(service);
    expect(s).toEqual({
      metadata: {
        name: 'web',
        namespace: 'shop',
        resourceVersion: '7',
        labels: { 'service.kubernetes.io/service-proxy-name': 'other' },
      },
      spec: {
        type: 'ClusterIP',
        clusterIP: '10.96.3.4',
        internalTrafficPolicy: 'Local',
        ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
      },
    });
    expect(slimService(s)).toEqual(s);
    const e = slimEndpointSlice(slice);
    expect(e.endpoints?.[0]).toEqual({
      addresses: ['10.1.0.1'],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: 'n1',
      hints: { forZones: [{ name: 'a' }] },
    });
    expect(slimEndpointSlice(e)).toBe(e);
    const node = {
      metadata: { name: 'n1', managedFields: [{}], labels: { a: 'b' } },
      status: { images: [{ names: ['x'] }], nodeInfo: { bootID: 'b' }, conditions: [] },
    } as unknown as Node;
    expect(slimNode(node)).toEqual({
      metadata: { name: 'n1', labels: { a: 'b' } },
      status: { nodeInfo: { bootID: 'b' }, conditions: [] },
    });
  });

  it('keep repeated values once: shared conditions (frozen) and node names; dual-stack clusterIPs stay', () => {
    const endpoint = (ip: string, ready: boolean) => ({
      addresses: [ip],
      conditions: { ready, serving: ready, terminating: false },
      nodeName: ['ip-10-0-12-34', 'ec2', 'internal'].join('.'), // a fresh string each time
    });
    const a = slimEndpointSlice({
      ...slice,
      endpoints: [endpoint('10.1.0.1', true), endpoint('10.1.0.2', false)],
    });
    const b = slimEndpointSlice({ ...slice, endpoints: [endpoint('10.1.0.3', true)] });
    const [a1, a2] = a.endpoints ?? [];
    const [b1] = b.endpoints ?? [];
    expect(a1?.conditions).toBe(b1?.conditions);
    expect(a1?.conditions).not.toBe(a2?.conditions);
    expect(a2?.conditions).toEqual({ ready: false, serving: false, terminating: false });
    expect(Object.isFrozen(a1?.conditions)).toBe(true);
    expect(a1?.nodeName).toBe('ip-10-0-12-34.ec2.internal');
    const dual = { ...service, spec: { ...service.spec, clusterIPs: ['10.96.3.4', 'fd00::4'] } } as Service;
    expect(slimService(dual).spec?.clusterIPs).toEqual(['10.96.3.4', 'fd00::4']);
  });

  it('keep one frozen copy of each port list; a different list is its own', () => {
    const ports = (port: number) => [
      { name: ['ht', 'tp'].join(''), port, protocol: 'TCP', targetPort: 8080 },
    ];
    const a = slimService({ ...service, spec: { ...service.spec, ports: ports(80) } } as Service);
    const b = slimService({ ...service, spec: { ...service.spec, ports: ports(80) } } as Service);
    const c = slimService({ ...service, spec: { ...service.spec, ports: ports(81) } } as Service);
    expect(a.spec?.ports).toBe(b.spec?.ports);
    expect(a.spec?.ports).toEqual([{ name: 'http', port: 80, protocol: 'TCP' }]);
    expect(c.spec?.ports).toEqual([{ name: 'http', port: 81, protocol: 'TCP' }]);
    expect(Object.isFrozen(a.spec?.ports) && Object.isFrozen(a.spec?.ports?.[0])).toBe(true);
    const s1 = slimEndpointSlice({ ...slice, ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] });
    const s2 = slimEndpointSlice({ ...slice, ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] });
    expect(s1.ports).toBe(s2.ports);
    expect(s1.ports).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]);
  });

  it('read back every endpoint as it came (addresses, conditions, node, hints), whatever the mix', () => {
    // A fixed pseudo-random mix: 1-3 addresses, conditions absent, partial or full, node or none, hints.
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const tri = () => [undefined, true, false][next(3)];
    const endpoints: Endpoint[] = Array.from({ length: 200 }, (_, i) => {
      const c = { ready: tri(), serving: tri(), terminating: tri() };
      const conditions = Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined));
      return {
        addresses: Array.from({ length: 1 + next(3) }, (_, a) => `10.${a}.${i >> 8}.${i & 255}`),
        ...(next(4) > 0 ? { conditions } : {}),
        ...(next(5) > 0 ? { nodeName: `node-${next(4)}` } : {}),
        ...(next(6) === 0 ? { hints: { forZones: [{ name: `zone-${next(3)}` }] } } : {}),
        targetRef: { kind: 'Pod', name: `p${i}` },
      };
    });
    const kept = slimEndpointSlice({ ...slice, endpoints });
    const { targetRef: _t, ...plain } = endpoints[0] as Endpoint;
    expect(kept.endpoints?.[0]).toEqual(plain);
    expect(kept.endpoints).toEqual(endpoints.map(({ targetRef: _r, ...rest }) => rest));
    // Fresh objects on every read: what a reader changes is not kept.
    (kept.endpoints?.[0]?.addresses ?? []).push('10.9.9.9');
    expect(kept.endpoints?.[0]?.addresses).toEqual(plain.addresses);
    // JSON (a bundle, a debug dump) carries the endpoints as plain data.
    expect(JSON.parse(JSON.stringify(kept)).endpoints).toEqual(kept.endpoints);
    expect(slimEndpointSlice({ ...slice, endpoints: [] }).endpoints).toEqual([]);
    const none = slimEndpointSlice({ ...slice, endpoints: undefined } as unknown as EndpointSlice);
    expect(none.endpoints ?? []).toEqual([]);
    expect(none.ports).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]);
  });

  it('keep slices whose addresses cannot be packed as they came (no address, a separator in one)', () => {
    for (const addresses of [[], ['10.1.0.1,10.1.0.2'], ['10.1.0.1 x'], ['']]) {
      const odd = { addresses, nodeName: 'n1' };
      const kept = slimEndpointSlice({ ...slice, endpoints: [{ addresses: ['10.1.0.9'] }, odd] });
      expect(kept.endpoints).toEqual([{ addresses: ['10.1.0.9'] }, odd]);
    }
  });
});
