/**
 * Which container is which of the node's networking components — aws-node (the VPC CNI), its
 * network policy agent, kube-proxy, calico-node — and how an image reference reads. The one
 * matcher behind both the component reader (sources/components.ts) and the question "is a
 * kube-proxy pod bound here?" (assess/kube-proxy-presence.ts). Pure.
 */
import type { Pod } from './objects.ts';
import { parseVersion, type Version } from './versions.ts';

/** An image reference split the way registries do: `registry/repo:tag@sha256:…`. */
export interface ImageRef {
  readonly image: string;
  /** Everything before the tag: `602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni`. */
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
  /** From the tag; absent for `latest`, digest-only or unparsable tags. */
  readonly version?: Version;
}

/** Splits `registry:5000/repo/name:tag@sha256:…` (a port's colon is not a tag). */
export function parseImageRef(image: string): ImageRef {
  const at = image.indexOf('@');
  const named = at >= 0 ? image.slice(0, at) : image;
  const digest = at >= 0 ? image.slice(at + 1) : undefined;
  const colon = named.lastIndexOf(':');
  const hasTag = colon > named.lastIndexOf('/');
  const repository = hasTag ? named.slice(0, colon) : named;
  const tag = hasTag ? named.slice(colon + 1) : undefined;
  const version = tag !== undefined ? parseVersion(tag) : undefined;
  return {
    image,
    repository,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
    ...(version ? { version } : {}),
  };
}

/** The components netwarden recognises by their container. */
export type ComponentName = 'aws-node' | 'aws-network-policy-agent' | 'kube-proxy' | 'calico-node';

/** The last path segment of an image's repository (`amazon-k8s-cni`, `kube-proxy`). */
function imageName(image: ImageRef): string {
  return image.repository.slice(image.repository.lastIndexOf('/') + 1);
}

/**
 * True when a container (its `name` and `image`, as a pod spec has them) is `component`: by the
 * container name the upstream manifests use, or by the image the component ships as.
 */
export function isComponentContainer(
  component: ComponentName,
  c: { readonly name?: unknown; readonly image?: unknown },
): boolean {
  if (c.name === component) return true;
  if (typeof c.image !== 'string') return false;
  const image = parseImageRef(c.image);
  switch (component) {
    case 'aws-node':
      return imageName(image) === 'amazon-k8s-cni';
    case 'calico-node':
      return /(^|\/)(calico\/node|cnx-node)$/.test(image.repository);
    default:
      return imageName(image) === component;
  }
}

/** True when a pod is a kube-proxy (by the usual labels, a kube-system pod named so, or its container). */
export function isKubeProxyPod(pod: Pod): boolean {
  const labels = pod.metadata?.labels ?? {};
  if (labels['k8s-app'] === 'kube-proxy' || labels.component === 'kube-proxy') return true;
  if (pod.metadata?.namespace === 'kube-system' && pod.metadata.name?.startsWith('kube-proxy-')) return true;
  return (pod.spec?.containers ?? []).some((c) => isComponentContainer('kube-proxy', c));
}
