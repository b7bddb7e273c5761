import { describe, expect, it } from 'vitest';
import type { ClusterState } from './cluster-state.ts';
import { expectedServicePorts } from './expected.ts';
import { service, slice, smallCluster } from './testing.ts';

const one = (cluster: ClusterState, nodeName?: string) =>
  expectedServicePorts(cluster, nodeName ? { nodeName } : {}).ports;

describe('expectedServicePorts', () => {
  it('gives one entry per ClusterIP port with kube-proxy names and chains', () => {
    const ports = one(smallCluster(), 'node-a');
    const byName = new Map(ports.map((p) => [`${p.servicePortName}/${p.protocol}`, p]));
    const k = byName.get('default/kubernetes:https/tcp');
    expect(k?.iptablesChain).toBe('KUBE-SVC-NPX46M4PTMTKRN6Y');
    expect(k?.nftChain).toBe('service-2QRHZV4L-default/kubernetes/tcp/https');
    expect(k?.endpoints().map((e) => `${e.ip}:${e.port}`)).toEqual(['172.18.0.2:6443']);
    expect(byName.get('kube-system/kube-dns:dns/udp')?.iptablesChain).toBe('KUBE-SVC-TCOU7JCQXEZGVUNU');
    expect(byName.get('kube-system/kube-dns:dns/udp')?.endpoints()).toHaveLength(2);
    expect(byName.get('app/nothing:http/tcp')?.verdict).toBe('no-endpoints');
  });

  it('counts the endpoints it lists, and lists the same ones on every call', () => {
    for (const p of one(smallCluster(), 'node-a')) {
      const first = p.endpoints();
      expect(first).toHaveLength(p.endpointCount);
      expect(p.endpoints()).not.toBe(first);
      expect(p.endpoints()).toEqual(first);
    }
    expect(one(smallCluster(), 'node-a').some((p) => p.endpointCount > 1)).toBe(true);
  });

  it('uses local endpoints and KUBE-SVL for internalTrafficPolicy Local', () => {
    const local = one(smallCluster(), 'node-a').find((p) => p.name === 'local');
    expect(local?.verdict).toBe('endpoints');
    expect(local?.iptablesChain).toMatch(/^KUBE-SVL-/);
    expect(local?.endpoints().map((e) => e.ip)).toEqual(['10.244.0.7']);
    expect(one(smallCluster(), 'node-c').find((p) => p.name === 'local')?.verdict).toBe('no-local-endpoints');
    expect(one(smallCluster()).find((p) => p.name === 'local')?.verdict).toBe('unknown');
  });

  it.each([
    [
      'ready endpoints only',
      [{ ip: '10.0.0.1' }, { ip: '10.0.0.2', ready: false }],
      'endpoints',
      ['10.0.0.1'],
    ],
    ['nil ready means ready', [{ ip: '10.0.0.1' }], 'endpoints', ['10.0.0.1']],
    [
      'falls back to serving+terminating when none is ready',
      [
        { ip: '10.0.0.1', ready: false, serving: true, terminating: true },
        { ip: '10.0.0.2', ready: false, serving: false, terminating: true },
      ],
      'endpoints',
      ['10.0.0.1'],
    ],
    ['no usable endpoint', [{ ip: '10.0.0.1', ready: false }], 'no-endpoints', []],
  ])('%s', (_n, eps, verdict, ips) => {
    const c: ClusterState = {
      services: [service('a', 's', '10.96.1.1', [{ port: 80 }])],
      endpointSlices: [slice('a', 's', [{ port: 80 }], eps)],
      pods: [],
    };
    const p = one(c)[0];
    expect(p?.verdict).toBe(verdict);
    expect(p?.endpoints().map((e) => e.ip)).toEqual(ips);
  });

  it('matches slice ports by name and protocol, merges slices and dedupes', () => {
    const ports = [
      { name: 'a', port: 80 },
      { name: 'b', port: 81, protocol: 'UDP' as const },
    ];
    const c: ClusterState = {
      services: [service('x', 's', '10.96.2.2', ports)],
      endpointSlices: [
        slice('x', 's', [{ name: 'a', port: 80, targetPort: 8080 }], [{ ip: '10.1.0.1' }], 'one'),
        slice(
          'x',
          's',
          [{ name: 'a', port: 80, targetPort: 8080 }],
          [{ ip: '10.1.0.2' }, { ip: '10.1.0.1' }],
          'two',
        ),
      ],
      pods: [],
    };
    const [a, b] = one(c);
    expect(a?.endpoints().map((e) => `${e.ip}:${e.port}`)).toEqual(['10.1.0.1:8080', '10.1.0.2:8080']);
    expect(b?.verdict).toBe('no-endpoints');
  });

  it('skips headless, ExternalName, IPv6 ClusterIPs and services of another proxy', () => {
    const c: ClusterState = {
      services: [
        service('x', 'headless', 'None', [{ port: 80 }]),
        {
          ...service('x', 'ext', '', [{ port: 80 }]),
          spec: { type: 'ExternalName', externalName: 'a.example' },
        },
        service('x', 'v6', 'fd00::1', [{ port: 80 }]),
        {
          ...service('x', 'other', '10.96.3.3', [{ port: 80 }]),
          metadata: {
            namespace: 'x',
            name: 'other',
            labels: { 'service.kubernetes.io/service-proxy-name': 'cilium' },
          },
        },
      ],
      endpointSlices: [],
      pods: [],
    };
    expect(one(c)).toEqual([]);
  });

  it('flags topology hints', () => {
    const c: ClusterState = {
      services: [service('a', 's', '10.96.1.1', [{ port: 80 }])],
      endpointSlices: [slice('a', 's', [{ port: 80 }], [{ ip: '10.0.0.1', zoneHint: 'z1' }])],
      pods: [],
    };
    expect(one(c)[0]?.topologyHints).toBe(true);
  });
});
