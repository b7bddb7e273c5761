import { describe, expect, it } from 'vitest';
import { type ComponentName, isComponentContainer, isKubeProxyPod, parseImageRef } from './components.ts';
import type { Pod } from './objects.ts';
import { formatVersion } from './versions.ts';

const ECR = '602401143452.dkr.ecr.us-west-2.amazonaws.com';

describe('parseImageRef', () => {
  it.each([
    [
      `${ECR}/amazon-k8s-cni:v1.19.2-eksbuild.1`,
      `${ECR}/amazon-k8s-cni`,
      'v1.19.2-eksbuild.1',
      undefined,
      '1.19.2',
    ],
    ['registry.k8s.io/kube-proxy:v1.30.0', 'registry.k8s.io/kube-proxy', 'v1.30.0', undefined, '1.30.0'],
    ['localhost:5000/calico/node:v3.27.0', 'localhost:5000/calico/node', 'v3.27.0', undefined, '3.27.0'],
    ['localhost:5000/calico/node', 'localhost:5000/calico/node', undefined, undefined, undefined],
    ['calico/node:latest', 'calico/node', 'latest', undefined, undefined],
    [
      'quay.io/calico/node:v3.27.0@sha256:4f1e3c0b7d',
      'quay.io/calico/node',
      'v3.27.0',
      'sha256:4f1e3c0b7d',
      '3.27.0',
    ],
    [
      'quay.io/calico/node@sha256:4f1e3c0b7d',
      'quay.io/calico/node',
      undefined,
      'sha256:4f1e3c0b7d',
      undefined,
    ],
  ])('%s', (image, repository, tag, digest, version) => {
    const r = parseImageRef(image);
    expect(r.repository).toBe(repository);
    expect(r.tag).toBe(tag);
    expect(r.digest).toBe(digest);
    expect(r.version && formatVersion(r.version)).toBe(version);
  });
});

describe('isComponentContainer', () => {
  // Container names and images as the EKS add-ons, the Calico manifests and the operator write them.
  it.each<[ComponentName, { name?: string; image?: string }, boolean]>([
    ['aws-node', { name: 'aws-node', image: `${ECR}/amazon-k8s-cni:v1.22.3-eksbuild.1` }, true],
    ['aws-node', { name: 'cni', image: 'public.ecr.aws/eks/amazon-k8s-cni:v1.19.0' }, true],
    ['aws-node', { name: 'aws-vpc-cni-init', image: `${ECR}/amazon-k8s-cni-init:v1.22.3` }, false],
    [
      'aws-network-policy-agent',
      { name: 'aws-eks-nodeagent', image: `${ECR}/amazon/aws-network-policy-agent:v1.2.0-eksbuild.1` },
      true,
    ],
    ['kube-proxy', { name: 'kube-proxy', image: 'registry.k8s.io/kube-proxy:v1.30.0' }, true],
    ['kube-proxy', { name: 'proxy', image: `${ECR}/eks/kube-proxy:v1.30.0-minimal-eksbuild.3` }, true],
    ['kube-proxy', { name: 'kube-proxy-sidecar', image: 'busybox' }, false],
    ['calico-node', { name: 'calico-node', image: 'quay.io/calico/node:v3.27.0' }, true],
    ['calico-node', { name: 'node', image: 'quay.io/tigera/cnx-node:v3.19.0' }, true],
    ['calico-node', { name: 'install-cni', image: 'quay.io/calico/cni:v3.27.0' }, false],
    ['calico-node', { name: 'x' }, false],
  ])('%s %j → %s', (component, c, want) => {
    expect(isComponentContainer(component, c)).toBe(want);
  });
});

describe('isKubeProxyPod', () => {
  const pod = (p: { ns?: string; name?: string; labels?: Record<string, string>; image?: string }): Pod => ({
    metadata: {
      namespace: p.ns ?? 'kube-system',
      name: p.name ?? 'x',
      ...(p.labels ? { labels: p.labels } : {}),
    },
    spec: { containers: [{ name: 'c', ...(p.image ? { image: p.image } : {}) }] },
  });
  it.each<[string, Pod, boolean]>([
    ['kubeadm label', pod({ labels: { 'k8s-app': 'kube-proxy' } }), true],
    ['static pod label', pod({ labels: { component: 'kube-proxy' } }), true],
    ['kube-system pod named kube-proxy-…', pod({ name: 'kube-proxy-7xk2p' }), true],
    ['a pod elsewhere named kube-proxy-…', pod({ ns: 'app', name: 'kube-proxy-7xk2p' }), false],
    ['its image', pod({ ns: 'kube-proxy', image: 'registry.k8s.io/kube-proxy:v1.31.1' }), true],
    ['something else', pod({ name: 'coredns-abc', image: 'registry.k8s.io/coredns/coredns:v1.11.1' }), false],
  ])('%s → %s', (_n, p, want) => {
    expect(isKubeProxyPod(p)).toBe(want);
  });
});
