/** Builders of Services, EndpointSlices and Pods for tests (plain objects, as `kubectl get -o json` gives). */
import type { EndpointSlice, Pod, Service } from '../core/objects.ts';
import type { ClusterState } from './cluster-state.ts';

/** A port of a test Service. */
export interface TestPort {
  readonly name?: string;
  readonly port: number;
  readonly targetPort?: number;
  readonly protocol?: 'TCP' | 'UDP' | 'SCTP';
}

/** One endpoint of a test slice. */
export interface TestEndpoint {
  readonly ip: string;
  readonly node?: string;
  readonly ready?: boolean;
  readonly serving?: boolean;
  readonly terminating?: boolean;
  readonly zoneHint?: string;
}

/** A ClusterIP Service. */
export function service(
  ns: string,
  name: string,
  ip: string,
  ports: readonly TestPort[],
  extra: Record<string, unknown> = {},
): Service {
  return {
    kind: 'Service',
    metadata: { namespace: ns, name },
    spec: {
      type: 'ClusterIP',
      clusterIP: ip,
      clusterIPs: [ip],
      ports: ports.map((p) => ({ protocol: 'TCP', ...p })),
      ...extra,
    },
  } as Service;
}

/** An EndpointSlice of a Service; ports use `targetPort` when given. */
export function slice(
  ns: string,
  svc: string,
  ports: readonly TestPort[],
  eps: readonly TestEndpoint[],
  suffix = 'abcde',
): EndpointSlice {
  return {
    kind: 'EndpointSlice',
    metadata: { namespace: ns, name: `${svc}-${suffix}`, labels: { 'kubernetes.io/service-name': svc } },
    addressType: 'IPv4',
    ports: ports.map((p) => ({
      name: p.name ?? '',
      port: p.targetPort ?? p.port,
      protocol: p.protocol ?? 'TCP',
    })),
    endpoints: eps.map((e) => ({
      addresses: [e.ip],
      conditions: {
        ...(e.ready !== undefined ? { ready: e.ready } : {}),
        ...(e.serving !== undefined ? { serving: e.serving } : {}),
        ...(e.terminating !== undefined ? { terminating: e.terminating } : {}),
      },
      ...(e.node ? { nodeName: e.node } : {}),
      ...(e.zoneHint ? { hints: { forZones: [{ name: e.zoneHint }] } } : {}),
    })),
  } as EndpointSlice;
}

/** A running pod on a node. */
export function pod(
  ns: string,
  name: string,
  node: string,
  ip: string,
  extra: { hostNetwork?: boolean; phase?: string } = {},
): Pod {
  return {
    kind: 'Pod',
    metadata: { namespace: ns, name },
    spec: { nodeName: node, containers: [], ...(extra.hostNetwork ? { hostNetwork: true } : {}) },
    status: { phase: extra.phase ?? 'Running', podIP: ip },
  } as Pod;
}

/** A small cluster: kubernetes, kube-dns (3 ports), a local-policy service, one without endpoints. */
export function smallCluster(node = 'node-a'): ClusterState {
  const dns: TestPort[] = [
    { name: 'dns', port: 53, protocol: 'UDP' },
    { name: 'dns-tcp', port: 53 },
    { name: 'metrics', port: 9153 },
  ];
  return {
    services: [
      service('default', 'kubernetes', '10.96.0.1', [{ name: 'https', port: 443 }]),
      service('kube-system', 'kube-dns', '10.96.0.10', dns),
      service('app', 'local', '10.96.7.7', [{ port: 80, targetPort: 8080 }], {
        internalTrafficPolicy: 'Local',
      }),
      service('app', 'nothing', '10.96.9.9', [{ name: 'http', port: 80 }]),
    ],
    endpointSlices: [
      slice('default', 'kubernetes', [{ name: 'https', port: 6443 }], [{ ip: '172.18.0.2' }]),
      slice('kube-system', 'kube-dns', dns, [
        { ip: '10.244.0.3', node },
        { ip: '10.244.1.3', node: 'node-b' },
      ]),
      slice(
        'app',
        'local',
        [{ port: 80, targetPort: 8080 }],
        [
          { ip: '10.244.0.7', node },
          { ip: '10.244.1.7', node: 'node-b' },
        ],
      ),
    ],
    pods: [pod('kube-system', 'coredns-a', node, '10.244.0.3'), pod('app', 'local-a', node, '10.244.0.7')],
  };
}

/** 30 ClusterIP services `p/s0`…`p/s29` (10.96.50.N, port 80+N) with two endpoints each, no node names. */
export function manyServicesCluster(): ClusterState {
  return {
    services: Array.from({ length: 30 }, (_, i) =>
      service('p', `s${i}`, `10.96.50.${i}`, [{ name: 'web', port: 80 + i }]),
    ),
    endpointSlices: Array.from({ length: 30 }, (_, i) =>
      slice('p', `s${i}`, [{ name: 'web', port: 80 + i }], [{ ip: `10.1.${i}.1` }, { ip: `10.1.${i}.2` }]),
    ),
    pods: [],
  };
}
