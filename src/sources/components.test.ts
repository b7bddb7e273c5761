import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatVersion } from '../core/versions.ts';
import { componentObjectsFromJson, parseFlags, readComponentVersions } from './components.ts';

// Objects in the shape `kubectl get pods,daemonsets,configmaps -n kube-system -o json` prints, reduced
// to the fields the reader looks at. Images, flags, mounts and variable names follow the EKS add-on
// manifests (aws-node, kube-proxy) and the Calico manifests; the values are the ones quoted in the
// field-case threads (docs/field-cases.md).
const ECR = '602401143452.dkr.ecr.us-west-2.amazonaws.com';

const awsNodeDaemonSet = {
  kind: 'DaemonSet',
  metadata: { namespace: 'kube-system', name: 'aws-node' },
  spec: {
    template: {
      spec: {
        containers: [
          {
            name: 'aws-node',
            image: `${ECR}/amazon-k8s-cni:v1.22.3-eksbuild.1`,
            env: [
              { name: 'AWS_VPC_K8S_CNI_EXTERNALSNAT', value: 'false' },
              { name: 'AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS', value: '172.20.0.0/16, 10.0.0.0/8' },
              { name: 'AWS_VPC_K8S_CNI_VETHPREFIX', value: 'eni' },
              { name: 'ENABLE_NFTABLES', value: 'false' },
              { name: 'NETWORK_POLICY_ENFORCING_MODE', value: 'standard' },
              {
                name: 'MY_NODE_NAME',
                valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } },
              },
            ],
          },
          { name: 'aws-eks-nodeagent', image: `${ECR}/amazon/aws-network-policy-agent:v1.2.0-eksbuild.1` },
        ],
      },
    },
  },
};

const kubeProxyConfigMap = {
  kind: 'ConfigMap',
  metadata: { namespace: 'kube-system', name: 'kube-proxy-config' },
  data: {
    config:
      'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nbindAddress: 0.0.0.0\nclientConnection:\n  acceptContentTypes: ""\n  kubeconfig: /var/lib/kube-proxy/kubeconfig\nclusterCIDR: ""\niptables:\n  masqueradeAll: false\n  syncPeriod: 30s\nkind: KubeProxyConfiguration\nmetricsBindAddress: 0.0.0.0:10249\nmode: "nftables"\n',
  },
};

const kubeProxyPod = (node: string, tag: string) => ({
  kind: 'Pod',
  metadata: { namespace: 'kube-system', name: `kube-proxy-${node.slice(-5)}` },
  spec: {
    nodeName: node,
    containers: [
      {
        name: 'kube-proxy',
        image: `${ECR}/eks/kube-proxy:${tag}`,
        command: [
          'kube-proxy',
          '--v=2',
          '--config=/var/lib/kube-proxy-config/config',
          '--hostname-override=$(NODE_NAME)',
        ],
        volumeMounts: [
          { name: 'kubeconfig', mountPath: '/var/lib/kube-proxy/' },
          { name: 'config', mountPath: '/var/lib/kube-proxy-config/' },
        ],
      },
    ],
    volumes: [
      { name: 'kubeconfig', configMap: { name: 'kube-proxy' } },
      { name: 'config', configMap: { name: 'kube-proxy-config' } },
    ],
  },
  status: { containerStatuses: [{ name: 'kube-proxy', ready: true, restartCount: 2 }] },
});

const calicoConfig = {
  kind: 'ConfigMap',
  metadata: { namespace: 'kube-system', name: 'calico-config' },
  data: { iptables_backend: 'Legacy' },
};

const calicoNodeDaemonSet = {
  kind: 'DaemonSet',
  metadata: { namespace: 'kube-system', name: 'calico-node' },
  spec: {
    template: {
      spec: {
        containers: [
          {
            name: 'calico-node',
            image: 'docker.io/calico/node:v3.24.6',
            resources: { requests: { cpu: '250m' } },
            env: [
              {
                name: 'FELIX_IPTABLESBACKEND',
                valueFrom: { configMapKeyRef: { name: 'calico-config', key: 'iptables_backend' } },
              },
              { name: 'FELIX_BPFENABLED', value: 'false' },
              {
                name: 'FELIX_TYPHACN',
                valueFrom: { secretKeyRef: { name: 'typha-certs', key: 'common-name' } },
              },
            ],
          },
        ],
      },
    },
  },
};

const list = (...items: unknown[]) => ({ apiVersion: 'v1', kind: 'List', items });

describe('readComponentVersions', () => {
  const node = 'ip-10-0-81-194.ec2.internal';
  const objects = componentObjectsFromJson(
    list(awsNodeDaemonSet, calicoNodeDaemonSet, calicoConfig, kubeProxyConfigMap),
    list(
      kubeProxyPod('ip-10-0-50-10.ec2.internal', 'v1.30.5-eksbuild.2'),
      kubeProxyPod(node, 'v1.30.4-eksbuild.3'),
    ),
  );
  const got = readComponentVersions(objects, { nodeName: node });

  it('reads the VPC CNI image, version and the settings the field cases use', () => {
    const c = got.vpcCni;
    expect(c?.image.repository).toBe(`${ECR}/amazon-k8s-cni`);
    expect(c?.image.version && formatVersion(c.image.version)).toBe('1.22.3');
    expect(c?.image.version?.build).toBe('eksbuild.1');
    expect(c?.settings).toEqual({
      externalSnat: false,
      excludeSnatCidrs: ['172.20.0.0/16', '10.0.0.0/8'],
      enableNftables: false,
      vethPrefix: 'eni',
      networkPolicy: 'standard',
    });
    expect(c?.networkPolicyAgent?.tag).toBe('v1.2.0-eksbuild.1');
    expect(c?.unresolvedEnv).toEqual(['MY_NODE_NAME (fieldRef)']);
    expect(c?.source).toEqual({ kind: 'DaemonSet', namespace: 'kube-system', name: 'aws-node' });
  });

  it("reads kube-proxy from this node's Pod and its mode from the mounted ConfigMap", () => {
    const k = got.kubeProxy;
    expect(k?.source.node).toBe(node);
    expect(k?.image.tag).toBe('v1.30.4-eksbuild.3');
    expect(k?.mode).toBe('nftables');
    expect(k?.modeFrom).toBe('config');
    expect(k?.config).toEqual({ configMap: 'kube-system/kube-proxy-config', key: 'config' });
    expect(k?.flags).toMatchObject({ v: '2', config: '/var/lib/kube-proxy-config/config' });
    expect(k?.ready).toBe(true);
    expect(k?.restarts).toBe(2);
  });

  it('resolves a configMapKeyRef and keeps a secret unresolved', () => {
    const c = got.calicoNode;
    expect(c?.iptablesBackend).toBe('legacy');
    expect(c?.bpfEnabled).toBe(false);
    expect(c?.edition).toBe('open-source');
    expect(c?.image.version && formatVersion(c.image.version)).toBe('3.24.6');
    expect(c?.unresolvedEnv).toEqual(['FELIX_TYPHACN (secretKeyRef)']);
    expect(c?.cpuRequest).toBe('250m');
    expect(got.vpcCni?.cpuRequest).toBeUndefined();
  });

  it('notes which components were read from a DaemonSet instead of a Pod on the node', () => {
    expect(got.notes).toEqual([
      'aws-node (VPC CNI): no Pod on node ip-10-0-81-194.ec2.internal; read from DaemonSet kube-system/aws-node',
      'calico-node: no Pod on node ip-10-0-81-194.ec2.internal; read from DaemonSet kube-system/calico-node',
    ]);
  });

  it.each([
    [['kube-proxy', '--proxy-mode=ipvs'], 'ipvs', 'flag'],
    [['/usr/local/bin/kube-proxy', '--proxy-mode', 'nftables', '--v=2'], 'nftables', 'flag'],
    [['/bin/sh', '-c', 'kube-proxy --proxy-mode=iptables --v=2'], 'iptables', 'flag'],
  ])('reads --proxy-mode from %j', (command, mode, from) => {
    const pod = {
      ...kubeProxyPod(node, 'v1.36.5'),
      spec: {
        nodeName: node,
        containers: [{ name: 'kube-proxy', image: 'registry.k8s.io/kube-proxy:v1.36.5', command }],
      },
    };
    const k = readComponentVersions({ pods: [pod] }, { nodeName: node }).kubeProxy;
    expect(k?.mode).toBe(mode);
    expect(k?.modeFrom).toBe(from);
  });

  it.each([
    ['mode: ""\n', 'iptables', 'default'], // kubeadm writes an empty mode: iptables on Linux
    ['mode: ipvs # comment\n', 'ipvs', 'config'],
    ['{"kind":"KubeProxyConfiguration","mode":"nftables"}', 'nftables', 'config'],
    ['kind: KubeProxyConfiguration\n', 'iptables', 'default'],
  ])('reads the mode of config %j', (config, mode, from) => {
    const cm = { ...kubeProxyConfigMap, data: { config } };
    const k = readComponentVersions({
      pods: [kubeProxyPod(node, 'v1.29.3-minimal-eksbuild.2')],
      configMaps: [cm],
    }).kubeProxy;
    expect(k?.mode).toBe(mode);
    expect(k?.modeFrom).toBe(from);
  });

  it('says why the mode is unknown when the mounted ConfigMap is not in the cluster state', () => {
    const r = readComponentVersions({ pods: [kubeProxyPod(node, 'v1.30.0-eksbuild.3')] }, { nodeName: node });
    expect(r.kubeProxy?.mode).toBeUndefined();
    expect(r.kubeProxy?.config).toEqual({ configMap: 'kube-system/kube-proxy-config', key: 'config' });
    expect(r.notes).toEqual([
      'kube-proxy: --config=/var/lib/kube-proxy-config/config is ConfigMap kube-system/kube-proxy-config key config, which the cluster state does not hold',
    ]);
  });

  it('reports an unknown mode rather than guessing', () => {
    const cm = { ...kubeProxyConfigMap, data: { config: 'mode: userspace\n' } };
    const r = readComponentVersions({ pods: [kubeProxyPod(node, 'v1.30.0')], configMaps: [cm] });
    expect(r.kubeProxy?.mode).toBeUndefined();
    expect(r.notes[0]).toContain('has a mode kube-proxy does not know');
  });

  it('follows a subPath mount to its key', () => {
    const pod = kubeProxyPod(node, 'v1.30.0');
    const c = pod.spec.containers[0];
    if (!c) throw new Error('fixture');
    const withSubPath = {
      ...pod,
      spec: {
        ...pod.spec,
        containers: [
          {
            ...c,
            command: ['kube-proxy', '--config=/var/lib/kube-proxy/config.conf'],
            volumeMounts: [
              { name: 'kube-proxy', mountPath: '/var/lib/kube-proxy/config.conf', subPath: 'config.conf' },
            ],
          },
        ],
        volumes: [{ name: 'kube-proxy', configMap: { name: 'kube-proxy' } }],
      },
    };
    const cm = {
      kind: 'ConfigMap',
      metadata: { namespace: 'kube-system', name: 'kube-proxy' },
      data: { 'config.conf': 'mode: ""\n' },
    };
    const r = readComponentVersions({ pods: [withSubPath], configMaps: [cm] });
    expect(r.kubeProxy?.config).toEqual({ configMap: 'kube-system/kube-proxy', key: 'config.conf' });
    expect(r.kubeProxy?.modeFrom).toBe('default');
  });

  it('follows a ConfigMap items entry that renames the key', () => {
    const pod = kubeProxyPod(node, 'v1.30.0');
    const volumes = [
      {
        name: 'config',
        configMap: { name: 'kube-proxy-config', items: [{ key: 'config', path: 'kube-proxy.yaml' }] },
      },
    ];
    const c = pod.spec.containers[0];
    if (!c) throw new Error('fixture');
    const renamed = {
      ...pod,
      spec: {
        ...pod.spec,
        volumes,
        containers: [
          { ...c, command: ['kube-proxy', '--config=/var/lib/kube-proxy-config/kube-proxy.yaml'] },
        ],
      },
    };
    const r = readComponentVersions({ pods: [renamed], configMaps: [kubeProxyConfigMap] });
    expect(r.kubeProxy?.mode).toBe('nftables');
  });

  it('says when --config is not a mounted ConfigMap', () => {
    const pod = kubeProxyPod(node, 'v1.30.0');
    const c = pod.spec.containers[0];
    if (!c) throw new Error('fixture');
    const hostPath = {
      ...pod,
      spec: { ...pod.spec, containers: [{ ...c, command: ['kube-proxy', '--config=/etc/kube-proxy.yaml'] }] },
    };
    const r = readComponentVersions({ pods: [hostPath] });
    expect(r.kubeProxy?.mode).toBeUndefined();
    expect(r.notes).toEqual([
      'kube-proxy: --config=/etc/kube-proxy.yaml is not a mounted ConfigMap; mode unknown',
    ]);
  });

  it('recognises Calico Enterprise and the operator-set BPF data plane', () => {
    const ds = {
      ...calicoNodeDaemonSet,
      metadata: { namespace: 'calico-system', name: 'calico-node' },
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: 'calico-node',
                image: 'quay.io/tigera/cnx-node:v3.18.1',
                env: [{ name: 'FELIX_BPFENABLED', value: 'true' }],
              },
            ],
          },
        },
      },
    };
    const c = readComponentVersions({ daemonSets: [ds] }).calicoNode;
    expect(c?.edition).toBe('enterprise');
    expect(c?.bpfEnabled).toBe(true);
    expect(c?.iptablesBackend).toBeUndefined();
  });

  it('notes an iptables backend value Felix does not accept', () => {
    const ds = {
      ...calicoNodeDaemonSet,
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: 'calico-node',
                image: 'calico/node:v3.27.0',
                env: [{ name: 'FELIX_IPTABLESBACKEND', value: 'nftables' }],
              },
            ],
          },
        },
      },
    };
    const r = readComponentVersions({ daemonSets: [ds] });
    expect(r.calicoNode?.iptablesBackend).toBeUndefined();
    expect(r.notes).toEqual(['calico-node: FELIX_IPTABLESBACKEND=nftables is not Auto, Legacy or NFT']);
  });

  it('finds nothing in objects of other shapes, and never throws on junk (fuzz)', () => {
    expect(readComponentVersions({})).toEqual({ notes: [] });
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 5 }), (docs) => {
        const r = readComponentVersions(componentObjectsFromJson(...docs), { nodeName: 'n' });
        expect(Array.isArray(r.notes)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('componentObjectsFromJson', () => {
  it('sorts Lists, arrays and plain objects by kind and skips other kinds', () => {
    const o = componentObjectsFromJson(
      list(awsNodeDaemonSet, { kind: 'Service', metadata: { name: 's' } }),
      [kubeProxyConfigMap],
      { pods: [kubeProxyPod('n', 'v1.30.0')] },
    );
    expect(o.daemonSets).toHaveLength(1);
    expect(o.configMaps).toHaveLength(1);
    expect(o.pods).toHaveLength(1);
  });
});

describe('parseFlags', () => {
  it.each([
    [['kube-proxy', '--v=2', '--config=/a/b'], { v: '2', config: '/a/b' }],
    [
      ['kube-proxy', '--v', '2', '--masquerade-all', '--cluster-cidr', '10.0.0.0/16'],
      { v: '2', 'masquerade-all': 'true', 'cluster-cidr': '10.0.0.0/16' },
    ],
    [['sh', '-c', 'kube-proxy --v=2 --config=/x'], { c: 'kube-proxy', v: '2', config: '/x' }],
    [['--iptables-min-sync-period=1s', '--'], { 'iptables-min-sync-period': '1s' }],
  ])('%j', (argv, want) => {
    expect(parseFlags(argv)).toEqual(want);
  });
});
