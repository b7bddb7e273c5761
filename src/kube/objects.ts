/**
 * Generic object access (create/apply/read/delete/list) and a few admin helpers the lab and the
 * tests need: ServiceAccount tokens, pod status written as a kubelet would. Agent code uses the
 * narrow interfaces (nodes.ts, pods.ts, …) instead.
 */
import {
  type KubernetesObject,
  KubernetesObjectApi,
  loadAllYaml,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { apiError, httpStatus, type KubeClient } from './client.ts';
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
    this.#api = KubernetesObjectApi.makeApiClient(client.kc);
  }

  /** Server-side apply (create or update), as field manager `netwarden`, forcing conflicts. */
  async apply<T extends KubeObject>(obj: T): Promise<T> {
    try {
      return (await this.#api.patch(
        obj,
        undefined,
        undefined,
        FIELD_MANAGER,
        true,
        PatchStrategy.ServerSideApply,
      )) as T;
    } catch (err) {
      throw apiError(`apply ${describe(obj)}`, err);
    }
  }

  async create<T extends KubeObject>(obj: T): Promise<T> {
    try {
      return (await this.#api.create(obj)) as T;
    } catch (err) {
      throw apiError(`create ${describe(obj)}`, err);
    }
  }

  /** The object, or null when it does not exist. */
  async read<T extends KubeObject>(obj: KubeObject): Promise<T | null> {
    try {
      return (await this.#api.read(obj as never)) as unknown as T;
    } catch (err) {
      if (httpStatus(err) === 404) return null;
      throw apiError(`read ${describe(obj)}`, err);
    }
  }

  /** Deletes; a missing object counts as deleted. */
  async delete(obj: KubeObject, opts: { gracePeriodSeconds?: number } = {}): Promise<void> {
    try {
      await this.#api.delete(obj, undefined, undefined, opts.gracePeriodSeconds, undefined, 'Background');
    } catch (err) {
      if (httpStatus(err) === 404) return;
      throw apiError(`delete ${describe(obj)}`, err);
    }
  }

  async list<T = KubeObject>(
    apiVersion: string,
    kind: string,
    opts: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {},
  ): Promise<T[]> {
    try {
      const res = await this.#api.list(
        apiVersion,
        kind,
        opts.namespace,
        undefined,
        undefined,
        undefined,
        opts.fieldSelector,
        opts.labelSelector,
      );
      return res.items as unknown as T[];
    } catch (err) {
      throw apiError(`list ${kind}`, err);
    }
  }

  /** A bound token for a ServiceAccount (TokenRequest API). */
  async serviceAccountToken(namespace: string, name: string, expirationSeconds = 3600): Promise<string> {
    try {
      const res = await this.#client.core.createNamespacedServiceAccountToken({
        namespace,
        name,
        body: { spec: { audiences: [], expirationSeconds } },
      });
      return res.status?.token ?? '';
    } catch (err) {
      throw apiError(`request token for serviceaccount ${namespace}/${name}`, err);
    }
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
    try {
      return await this.#client.core.patchNamespacedPodStatus(
        { namespace, name, body: { status } },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
    } catch (err) {
      throw apiError(`patch status of pod ${namespace}/${name}`, err);
    }
  }
}

function describe(obj: KubernetesObject): string {
  const ns = obj.metadata?.namespace ? `${obj.metadata.namespace}/` : '';
  return `${obj.kind ?? 'object'} ${ns}${obj.metadata?.name ?? '?'}`;
}
