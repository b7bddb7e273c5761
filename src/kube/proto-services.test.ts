import { describe, expect, it } from 'vitest';
import { decodeEndpointSliceWatchEvent, decodeServiceWatchEvent } from './proto-services.ts';
import { message } from './protobuf-testing.ts';

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);
const event = (type: string, apiVersion: string, kind: string, raw: Buffer) =>
  message(
    [1, type],
    [2, message([1, Buffer.concat([MAGIC, message([1, message([1, apiVersion], [2, kind])], [2, raw])])])],
  );

describe('decodeServiceWatchEvent', () => {
  it('reads ports (targetPort by number and by name), selector, IPs and policies as JSON has them', () => {
    const spec = message(
      [1, message([1, 'http'], [2, 'TCP'], [3, 80], [4, message([1, 1], [3, 'web'])], [5, 0], [6, 'http'])],
      [1, message([1, ''], [2, 'UDP'], [3, 53], [4, message([1, 0], [2, 5353])], [5, 30053])],
      [2, message([1, 'app'], [2, 'dns'])],
      [3, '10.96.0.10'],
      [18, '10.96.0.10'],
      [4, 'ClusterIP'],
      [7, 'None'],
      [10, ''],
      [11, ''],
      [19, 'IPv4'],
      [22, 'Cluster'],
      [12, 0], // healthCheckNodePort: not declared, skipped
    );
    const raw = message(
      [1, message([1, 'kube-dns'], [3, 'kube-system'])],
      [2, spec],
      [3, message([1, message()])],
    );
    expect(decodeServiceWatchEvent(event('ADDED', 'v1', 'Service', raw))).toEqual({
      type: 'ADDED',
      object: {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'kube-dns', namespace: 'kube-system' },
        spec: {
          ports: [
            { name: 'http', protocol: 'TCP', port: 80, targetPort: 'web', appProtocol: 'http' },
            { protocol: 'UDP', port: 53, targetPort: 5353, nodePort: 30053 },
          ],
          selector: { app: 'dns' },
          clusterIP: '10.96.0.10',
          clusterIPs: ['10.96.0.10'],
          type: 'ClusterIP',
          sessionAffinity: 'None',
          ipFamilies: ['IPv4'],
          internalTrafficPolicy: 'Cluster',
        },
      },
    });
  });
});

describe('decodeEndpointSliceWatchEvent', () => {
  it('reads endpoints with only the conditions that were set, and pointer ports', () => {
    const ready = message([1, 1], [2, 1], [3, 0]);
    const endpoints = [
      message(
        [1, '10.244.1.5'],
        [2, ready],
        [3, 'pod-a'],
        [6, 'node-a'],
        [7, 'zone-a'],
        [4, message([1, 'Pod'], [2, 'default'], [3, 'pod-a'], [4, 'u-1'], [6, '123'])],
        [8, message([1, message([1, 'zone-a'])], [2, message([1, 'node-a'])])],
      ),
      message([1, '10.244.2.6'], [2, message([1, 0])]),
      message([1, '10.244.3.7'], [2, message()]),
    ];
    const raw = message(
      [
        1,
        message([1, 'svc-abc'], [3, 'default'], [11, message([1, 'kubernetes.io/service-name'], [2, 'svc'])]),
      ],
      [4, 'IPv4'],
      ...endpoints.map((e) => [2, e] as [number, Buffer]),
      [3, message([1, ''], [2, 'TCP'], [3, 8080])],
    );
    const ev = decodeEndpointSliceWatchEvent(event('MODIFIED', 'discovery.k8s.io/v1', 'EndpointSlice', raw));
    expect(ev.object).toEqual({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'svc-abc', namespace: 'default', labels: { 'kubernetes.io/service-name': 'svc' } },
      addressType: 'IPv4',
      endpoints: [
        {
          addresses: ['10.244.1.5'],
          conditions: { ready: true, serving: true, terminating: false },
          hostname: 'pod-a',
          nodeName: 'node-a',
          zone: 'zone-a',
          targetRef: { kind: 'Pod', namespace: 'default', name: 'pod-a', uid: 'u-1' },
          hints: { forZones: [{ name: 'zone-a' }], forNodes: [{ name: 'node-a' }] },
        },
        { addresses: ['10.244.2.6'], conditions: { ready: false } },
        { addresses: ['10.244.3.7'], conditions: {} },
      ],
      ports: [{ name: '', protocol: 'TCP', port: 8080 }], // pointers: an empty name was sent, so kept
    });
  });

  it('leaves out endpoints and ports when there are none (JSON: null)', () => {
    const raw = message([1, message([1, 'empty'])], [4, 'IPv4']);
    expect(
      decodeEndpointSliceWatchEvent(event('ADDED', 'discovery.k8s.io/v1', 'EndpointSlice', raw)).object,
    ).toEqual({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'empty' },
      addressType: 'IPv4',
    });
  });

  it('refuses a Service frame where an EndpointSlice is expected', () => {
    expect(() => decodeEndpointSliceWatchEvent(event('ADDED', 'v1', 'Service', message()))).toThrow(
      /an object of kind Service, expected EndpointSlice/,
    );
  });
});
