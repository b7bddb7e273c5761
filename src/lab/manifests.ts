/** Kubernetes objects the lab creates: kube-proxy, cluster DNS and the scenario workloads. Pure data. */
import type { KubeObject } from '../kube/objects.ts';
import { labImageRef } from './images.ts';
import { BOOT_PLAN_FILE } from './node.ts';

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

/**
 * The Corefile: the kubernetes plugin answering cluster.local (in-cluster config: the `kubernetes`
 * Service's ClusterIP and the pod's ServiceAccount token, as in a cluster), nothing forwarded.
 */
export function corefile(): string {
  return `.:53 {
    errors
    health :8080
    ready :8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    cache 5
}
`;
}

/** The kube-dns Service, the Corefile ConfigMap and a one-replica CoreDNS Deployment pinned to `node`. */
export function coreDns(node: string): KubeObject[] {
  const labels = { 'k8s-app': 'kube-dns' };
  return [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'coredns', namespace: 'kube-system' },
      data: { Corefile: corefile() },
    },
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
            priorityClassName: 'system-cluster-critical',
            nodeSelector: { 'kubernetes.io/hostname': node },
            volumes: [{ name: 'config', configMap: { name: 'coredns' } }],
            containers: [
              {
                name: 'coredns',
                image: labImageRef('coredns'),
                imagePullPolicy: 'Never',
                volumeMounts: [{ name: 'config', mountPath: '/etc/coredns', readOnly: true }],
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
              imagePullPolicy: 'Never',
              env: [
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                ...Object.entries(o.env ?? {}).map(([name, value]) => ({ name, value })),
              ],
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

/** Node label that takes kube-proxy's DaemonSet pod off a node (`off`), as `kubectl label` would. */
export const KUBE_PROXY_OFF_LABEL = 'netwarden.dev/lab-kube-proxy';

/** What kube-proxy's pods need to know about the lab. */
export interface KubeProxyInput {
  /** The API server as nodes reach it (not the ClusterIP: kube-proxy programs that). */
  readonly server: string;
  readonly mode: 'iptables' | 'nftables';
}

/**
 * kube-proxy as on EKS: a DaemonSet in kube-system with host networking and a privileged
 * container from the locally built image, its own ServiceAccount bound to system:node-proxier,
 * a kubeconfig in a ConfigMap that names the API endpoint and uses the pod's token, and its
 * KubeProxyConfiguration in the same ConfigMap. An init container (boot-wait) holds it until
 * the node's `kubeProxyDelayMs` after boot has passed: the lab's --kube-proxy-delay.
 */
export function kubeProxy(i: KubeProxyInput): KubeObject[] {
  const labels = { 'k8s-app': 'kube-proxy' };
  const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'lab', cluster: { server: i.server, 'certificate-authority': `${sa}/ca.crt` } }],
    users: [{ name: 'kube-proxy', user: { tokenFile: `${sa}/token` } }],
    contexts: [{ name: 'lab', context: { cluster: 'lab', user: 'kube-proxy' } }],
    'current-context': 'lab',
  };
  const config = {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig: '/var/lib/kube-proxy/kubeconfig' },
    mode: i.mode,
    clusterCIDR: '10.244.0.0/16',
    bindAddress: '0.0.0.0',
    healthzBindAddress: '0.0.0.0:10256',
    metricsBindAddress: '0.0.0.0:10249',
    // Leave conntrack sysctls alone: some are machine-wide.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    iptables: { syncPeriod: '30s', minSyncPeriod: '1s' },
    nftables: { syncPeriod: '30s', minSyncPeriod: '1s' },
  };
  const image = labImageRef('kube-proxy');
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'kube-proxy', namespace: 'kube-system' } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'netwarden-lab:kube-proxy' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:node-proxier' },
      subjects: [{ kind: 'ServiceAccount', name: 'kube-proxy', namespace: 'kube-system' }],
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'kube-proxy', namespace: 'kube-system' },
      data: {
        kubeconfig: JSON.stringify(kubeconfig, null, 2),
        'config.json': JSON.stringify(config, null, 2),
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'kube-proxy', namespace: 'kube-system', labels },
      spec: {
        selector: { matchLabels: labels },
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '10%' } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'kube-proxy',
            hostNetwork: true,
            dnsPolicy: 'ClusterFirst',
            priorityClassName: 'system-node-critical',
            tolerations: [{ operator: 'Exists' }],
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [
                    { matchExpressions: [{ key: KUBE_PROXY_OFF_LABEL, operator: 'NotIn', values: ['off'] }] },
                  ],
                },
              },
            },
            terminationGracePeriodSeconds: 1,
            volumes: [
              { name: 'config', configMap: { name: 'kube-proxy' } },
              { name: 'xtables-lock', hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' } },
              { name: 'boot-plan', hostPath: { path: '/run/netwarden-lab', type: 'DirectoryOrCreate' } },
              { name: 'lib-modules', hostPath: { path: '/lib/modules', type: 'DirectoryOrCreate' } },
            ],
            initContainers: [
              {
                name: 'boot-wait',
                image,
                imagePullPolicy: 'Never',
                command: ['/usr/local/bin/boot-wait'],
                env: [
                  { name: 'FILE', value: BOOT_PLAN_FILE },
                  { name: 'KEY', value: 'kubeProxyDelayMs' },
                ],
                volumeMounts: [{ name: 'boot-plan', mountPath: '/run/netwarden-lab', readOnly: true }],
              },
            ],
            containers: [
              {
                name: 'kube-proxy',
                image,
                imagePullPolicy: 'Never',
                command: [
                  '/usr/local/bin/kube-proxy',
                  '--config=/var/lib/kube-proxy/config.json',
                  '--hostname-override=$(NODE_NAME)',
                  '--v=1',
                ],
                env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
                securityContext: { privileged: true },
                volumeMounts: [
                  { name: 'config', mountPath: '/var/lib/kube-proxy', readOnly: true },
                  { name: 'xtables-lock', mountPath: '/run/xtables.lock' },
                  { name: 'lib-modules', mountPath: '/lib/modules', readOnly: true },
                ],
              },
            ],
          },
        },
      },
    },
  ];
}
