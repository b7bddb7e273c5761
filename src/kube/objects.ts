/**
 * Generic object access (create/apply/read/delete/list) and a few admin helpers the lab and the
 * tests need: ServiceAccount tokens, pod status written as a kubelet would. Agent code uses the
 * narrow interfaces (nodes.ts, pods.ts, …) instead.
 */
import {
  type KubernetesObject,
  type KubernetesObjectApi,
  loadAllYaml,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { httpStatus, type KubeClient } from './client.ts';
import type { Pod } from './types.ts';

/** Any Kubernetes object as plain data. */
export type KubeObject = KubernetesObject & Record<string, unknown>;

const FIELD_MANAGER = 'netwarden';

/** Listing any kind: the part of ObjectApi read-only consumers need. */
export interface KubeObjectLister {
  list<T = KubeObject>(
    apiVersion: string,
    kind: string,
    opts?: { namespace?: string; labelSelector?: string; fieldSelector?: string },
  ): Promise<T[]>;
}

/** Parses a multi-document YAML manifest into objects (empty documents dropped). */
export function parseManifests(yaml: string): KubeObject[] {
  return (loadAllYaml(yaml) as unknown[]).filter((d): d is KubeObject => typeof d === 'object' && d !== null);
}

/** Object access for one client. */
export class ObjectApi implements KubeObjectLister {
  readonly #client: KubeClient;
  readonly #api: KubernetesObjectApi;

  constructor(client: KubeClient) {
    this.#client = client;
    this.#api = client.objectApi();
  }

  /** Server-side apply (create or update), as field manager `netwarden`, forcing conflicts. */
  async apply<T extends KubeObject>(obj: T): Promise<T> {
    return (await this.#client.call(`apply ${describe(obj)}`, () =>
      this.#api.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply),
    )) as T;
  }

  async create<T extends KubeObject>(obj: T): Promise<T> {
    return (await this.#client.call(`create ${describe(obj)}`, () => this.#api.create(obj))) as T;
  }

  /** The object, or null when it does not exist. */
  async read<T extends KubeObject>(obj: KubeObject): Promise<T | null> {
    try {
      return (await this.#client.call(`read ${describe(obj)}`, () =>
        this.#api.read(obj as never),
      )) as unknown as T;
    } catch (err) {
      if (httpStatus(err) === 404) return null;
      throw err;
    }
  }

  /** Deletes; a missing object counts as deleted. */
  async delete(obj: KubeObject, opts: { gracePeriodSeconds?: number } = {}): Promise<void> {
    try {
      await this.#client.call(`delete ${describe(obj)}`, () =>
        this.#api.delete(obj, undefined, undefined, opts.gracePeriodSeconds, undefined, 'Background'),
      );
    } catch (err) {
      if (httpStatus(err) === 404) return;
      throw err;
    }
  }

  async list<T = KubeObject>(
    apiVersion: string,
    kind: string,
    opts: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {},
  ): Promise<T[]> {
    const res = await this.#client.call(`list ${kind}`, () =>
      this.#api.list(
        apiVersion,
        kind,
        opts.namespace,
        undefined,
        undefined,
        undefined,
        opts.fieldSelector,
        opts.labelSelector,
      ),
    );
    return res.items as unknown as T[];
  }

  /**
   * A bound token for a ServiceAccount (TokenRequest API). With `boundPod` the token is bound to
   * that Pod, as the kubelet's projected tokens are: it dies with the Pod and, when the Pod is
   * scheduled, carries its node's name (`authentication.kubernetes.io/node-name` in the user's
   * extra, Kubernetes >= 1.30).
   */
  async serviceAccountToken(
    namespace: string,
    name: string,
    expirationSeconds = 3600,
    boundPod?: { readonly name: string; readonly uid: string },
  ): Promise<string> {
    const boundObjectRef = boundPod ? { kind: 'Pod', apiVersion: 'v1', ...boundPod } : undefined;
    const res = await this.#client.call(`request token for serviceaccount ${namespace}/${name}`, (o) =>
      this.#client.core.createNamespacedServiceAccountToken(
        {
          namespace,
          name,
          body: { spec: { audiences: [], expirationSeconds, ...(boundObjectRef ? { boundObjectRef } : {}) } },
        },
        o,
      ),
    );
    return res.status?.token ?? '';
  }

  /**
   * Writes a pod's status subresource as a kubelet does: a strategic-merge patch, so conditions
   * merge by type and the scheduler's PodScheduled condition stays.
   */
  async patchPodStatus(
    namespace: string,
    name: string,
    status: NonNullable<Pod['status']> | Record<string, unknown>,
  ): Promise<Pod> {
    return await this.#client.call(`patch status of pod ${namespace}/${name}`, (o) =>
      this.#client.core.patchNamespacedPodStatus(
        { namespace, name, body: { status } },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch, o),
      ),
    );
  }
  /** Writes a node's status subresource (strategic merge: conditions and addresses merge by key). */
  async patchNodeStatus(name: string, status: Record<string, unknown>): Promise<void> {
    await this.#client.call(`patch status of node ${name}`, (o) =>
      this.#client.core.patchNodeStatus(
        { name, body: { status } },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch, o),
      ),
    );
  }
}

function describe(obj: KubernetesObject): string {
  const ns = obj.metadata?.namespace ? `${obj.metadata.namespace}/` : '';
  return `${obj.kind ?? 'object'} ${ns}${obj.metadata?.name ?? '?'}`;
}
