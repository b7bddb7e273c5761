/**
 * The example cluster of the sample bundles: one EKS-style node (ip-10-0-81-194.ec2.internal, VPC
 * CNI, six pods, three of them on a secondary ENI), its Services with explicit ClusterIPs in EKS's
 * service range (10.100.0.0/16), and selector-less Services with hand-written EndpointSlices. One
 * definition, used by examples/generate.ts (cluster-state.json, bundles) and by
 * examples/record-kube-proxy.ts (the objects the real kube-proxy is shown).
 */
import { service, type TestPort } from '../src/netfilter/testing.ts';

/** The example node. */
export const NODE = 'ip-10-0-81-194.ec2.internal';
/** Its primary ENI address. */
export const PRIMARY_IP = '10.0.81.194';
/** The VPC CIDR (also what the pods' addresses come from). */
export const VPC_CIDR = '10.0.0.0/16';
/** EKS's default Service CIDR: the `kubernetes` Service is its first address, 10.100.0.1. */
export const EKS_SERVICE_CIDR = '10.100.0.0/16';

/** A pod of the example node. */
export interface PodDef {
  readonly ns: string;
  readonly name: string;
  readonly ip: string;
  /** ENI device number (0 primary); a pod on device N uses route table N + 1. */
  readonly device: number;
  readonly app: string;
}

/** The six pods on the example node. */
export const PODS: readonly PodDef[] = [
  { ns: 'kube-system', name: 'coredns-6d8f9b7c5d-4xk2p', ip: '10.0.80.89', device: 0, app: 'kube-dns' },
  { ns: 'kube-system', name: 'coredns-6d8f9b7c5d-9qwer', ip: '10.0.80.65', device: 0, app: 'kube-dns' },
  { ns: 'app', name: 'rabbitmq-0', ip: '10.0.84.78', device: 1, app: 'rabbitmq' },
  { ns: 'app', name: 'web-7c9d8f6b5-abcde', ip: '10.0.80.109', device: 0, app: 'web' },
  { ns: 'app', name: 'vault-0', ip: '10.0.87.206', device: 1, app: 'vault' },
  { ns: 'app', name: 'web-7c9d8f6b5-fghij', ip: '10.0.87.240', device: 1, app: 'web' },
];

/** A plain Kubernetes object, as `kubectl get -o json` prints it. */
export type ExampleObject = {
  apiVersion: string;
  kind: string;
  metadata: { namespace?: string; name: string; labels?: Record<string, string> };
} & Record<string, unknown>;

function svc(ns: string, name: string, ip: string, ports: readonly TestPort[]): ExampleObject {
  return { apiVersion: 'v1', ...service(ns, name, ip, ports) } as ExampleObject;
}

function slice(
  ns: string,
  name: string,
  ports: readonly TestPort[],
  eps: readonly { ip: string; node?: string; ready?: boolean }[],
): ExampleObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: ns, name: `${name}-x7k2q`, labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4',
    ports: ports.map((p) => ({ protocol: 'TCP', ...p })),
    endpoints: eps.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true },
      ...(e.node ? { nodeName: e.node } : {}),
    })),
  };
}

const local = (app: string) => PODS.filter((p) => p.app === app).map((p) => ({ ip: p.ip, node: NODE }));

/** The Services and EndpointSlices of the example cluster. */
export function serviceObjects(): ExampleObject[] {
  const dnsPorts: TestPort[] = [
    { name: 'dns', port: 53, protocol: 'UDP' },
    { name: 'dns-tcp', port: 53 },
    { name: 'metrics', port: 9153 },
  ];
  return [
    svc('default', 'kubernetes', '10.100.0.1', [{ name: 'https', port: 443 }]),
    slice(
      'default',
      'kubernetes',
      [{ name: 'https', port: 443 }],
      [{ ip: '10.0.50.10' }, { ip: '10.0.60.10' }],
    ),
    svc('kube-system', 'kube-dns', '10.100.0.10', dnsPorts),
    slice('kube-system', 'kube-dns', dnsPorts, local('kube-dns')),
    svc('app', 'rabbitmq', '10.100.12.7', [{ name: 'amqp', port: 5672 }]),
    slice('app', 'rabbitmq', [{ name: 'amqp', port: 5672 }], local('rabbitmq')),
    svc('app', 'vault', '10.100.40.2', [{ name: 'http', port: 8200 }]),
    slice('app', 'vault', [{ name: 'http', port: 8200 }], local('vault')),
    svc('app', 'web', '10.100.33.3', [{ port: 80 }]),
    slice(
      'app',
      'web',
      [{ port: 8080 }],
      [...local('web'), { ip: '10.0.90.5', node: 'ip-10-0-90-1.ec2.internal' }],
    ),
    svc('app', 'empty', '10.100.50.50', [{ name: 'http', port: 80 }]),
  ];
}

/** Every object of the example cluster: its Services, EndpointSlices and Pods. */
export function clusterObjects(): ExampleObject[] {
  return [
    ...serviceObjects(),
    ...PODS.map((p) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { namespace: p.ns, name: p.name, labels: { app: p.app } },
      spec: { nodeName: NODE, containers: [{ name: 'c', image: 'x' }] },
      status: { phase: 'Running', podIP: p.ip, podIPs: [{ ip: p.ip }] },
    })),
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { namespace: 'app', name: 'web-7c9d8f6b5-zzzzz' },
      spec: { nodeName: 'ip-10-0-90-1.ec2.internal', containers: [] },
      status: { phase: 'Running', podIP: '10.0.90.5' },
    },
  ];
}

/**
 * What a kube-proxy with a stale view of the example cluster has not seen: the rabbitmq and vault
 * Services (with their slices) and web's EndpointSlice. A real kube-proxy shown the rest writes no
 * rules for rabbitmq and vault and a "has no endpoints" REJECT for web: the half-synced node of
 * rebooted-node-broken.
 */
export function unseenByStaleKubeProxy(o: ExampleObject): boolean {
  const name = o.metadata.name;
  if (o.metadata.namespace !== 'app') return false;
  if (name === 'rabbitmq' || name === 'vault' || name.startsWith('rabbitmq-') || name.startsWith('vault-'))
    return o.kind === 'Service' || o.kind === 'EndpointSlice';
  return o.kind === 'EndpointSlice' && name.startsWith('web-');
}
