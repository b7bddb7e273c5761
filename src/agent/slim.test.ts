import { describe, expect, it } from 'vitest';
import type { EndpointSlice, Node, Service } from '../core/objects.ts';
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
    for (const nodeName of ['n1', 'n2'])
      expect(JSON.stringify(expectedServicePorts(slim, { nodeName }))).toBe(
        JSON.stringify(expectedServicePorts(full, { nodeName })),
      );
  });

  it('drop annotations, managedFields, selectors, targetRefs; are idempotent', () => {
    const s = slimService(service);
    expect(s).toEqual({
      metadata: {
        name: 'web',
        namespace: 'shop',
        resourceVersion: '7',
        uid: 'u1',
        labels: { 'service.kubernetes.io/service-proxy-name': 'other' },
      },
      spec: {
        type: 'ClusterIP',
        clusterIP: '10.96.3.4',
        clusterIPs: ['10.96.3.4'],
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
    expect(slimEndpointSlice(e)).toEqual(e);
    const node = {
      metadata: { name: 'n1', managedFields: [{}], labels: { a: 'b' } },
      status: { images: [{ names: ['x'] }], nodeInfo: { bootID: 'b' }, conditions: [] },
    } as unknown as Node;
    expect(slimNode(node)).toEqual({
      metadata: { name: 'n1', labels: { a: 'b' } },
      status: { nodeInfo: { bootID: 'b' }, conditions: [] },
    });
  });
});
