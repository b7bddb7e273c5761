/** Kubernetes objects the lab creates: cluster DNS and the scenario workloads. Pure data. */
import type { KubeObject } from '../kube/objects.ts';

/** The cluster DNS Service IP (kubeadm's default for 10.96.0.0/12). */
export const CLUSTER_DNS_IP = '10.96.0.10';

/** RBAC and ServiceAccount CoreDNS's kubernetes plugin needs (as the upstream deployment has). */
export function coreDnsRbac(): KubeObject[] {
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'coredns', namespace: 'kube-system' } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'system:coredns' },
      rules: [
        {
          apiGroups: [''],
          resources: ['endpoints', 'services', 'pods', 'namespaces'],
          verbs: ['list', 'watch'],
        },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:coredns' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:coredns' },
      subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: 'kube-system' }],
    },
  ];
}

/** The Corefile: the kubernetes plugin answering cluster.local, nothing forwarded (no outside). */
export function corefile(kubeconfigPath: string): string {
  return `.:53 {
    errors
    health :8080
    ready :8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig ${kubeconfigPath} lab
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    cache 5
}
`;
}

/** The kube-dns Service and a one-replica CoreDNS Deployment pinned to `node`. */
export function coreDns(corefilePath: string, node: string): KubeObject[] {
  const labels = { 'k8s-app': 'kube-dns' };
  return [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: 'kube-system', labels },
      spec: {
        clusterIP: CLUSTER_DNS_IP,
        selector: labels,
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
          { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
        ],
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'coredns', namespace: 'kube-system', labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'coredns',
            automountServiceAccountToken: false,
            nodeSelector: { 'kubernetes.io/hostname': node },
            containers: [
              {
                name: 'coredns',
                image: 'lab/coredns',
                args: ['-conf', corefilePath],
                ports: [
                  { name: 'dns', containerPort: 53, protocol: 'UDP' },
                  { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
                ],
                readinessProbe: { tcpSocket: { port: 53 }, periodSeconds: 1, failureThreshold: 2 },
              },
            ],
          },
        },
      },
    },
  ];
}

/**
 * A Deployment spread evenly over nodes (topology spread, hard). `port` is served and probed;
 * `readinessPort` is only probed (lab/api-client opens 8081 once it has reached the API).
 */
export function spreadDeployment(o: {
  name: string;
  namespace: string;
  image: string;
  replicas: number;
  port?: number;
  readinessPort?: number;
  env?: Record<string, string>;
  nodeSelector?: Record<string, string>;
}): KubeObject {
  const labels = { app: o.name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: o.name, namespace: o.namespace, labels },
    spec: {
      replicas: o.replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 2,
          ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: 'kubernetes.io/hostname',
              whenUnsatisfiable: 'DoNotSchedule',
              labelSelector: { matchLabels: labels },
            },
          ],
          containers: [
            {
              name: o.name,
              image: o.image,
              env: Object.entries(o.env ?? {}).map(([name, value]) => ({ name, value })),
              ...(o.port ? { ports: [{ containerPort: o.port, protocol: 'TCP' }] } : {}),
              ...(o.port || o.readinessPort
                ? {
                    readinessProbe: {
                      tcpSocket: { port: o.readinessPort ?? o.port },
                      periodSeconds: 1,
                      failureThreshold: 2,
                    },
                  }
                : {}),
            },
          ],
        },
      },
    },
  };
}

/** A ClusterIP Service for a spread Deployment. */
export function service(name: string, namespace: string, port: number, targetPort: number): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: { selector: { app: name }, ports: [{ name: 'tcp', port, targetPort, protocol: 'TCP' }] },
  };
}
