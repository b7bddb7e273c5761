/**
 * Reading and writing Nodes: get/list/watch, one taint, one condition, annotations. Every write is
 * idempotent (no request when the Node is already as wanted) and race-safe (see node-patches.ts).
 */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { type Clock, systemClock } from '../core/clock.ts';
import { NetwardenError } from '../errors.ts';
import { apiError, httpStatus, type KubeClient } from './client.ts';
import {
  annotationsPatch,
  conditionPatch,
  type DesiredCondition,
  type JsonPatchOp,
  removeConditionPatch,
  taintPatch,
} from './node-patches.ts';
import type { Node, Taint, WriteResult } from './types.ts';
import { Reflector, type ReflectorHandlers } from './watch.ts';

/** Everything netwarden does with Nodes. A fake lives in fake.ts. */
export interface NodeApi {
  /** The Node, or null when it does not exist. */
  get(name: string): Promise<Node | null>;
  list(labelSelector?: string): Promise<Node[]>;
  /** Watches Nodes (optionally one, by name); the reflector resumes and relists on its own. */
  watch(
    handlers: ReflectorHandlers<Node>,
    opts?: { name?: string; labelSelector?: string },
  ): Promise<Reflector<Node>>;
  /** Makes the taint (by key and effect) present or absent. */
  setTaint(name: string, taint: Taint, want: 'present' | 'absent'): Promise<WriteResult>;
  /** Sets one condition through the status subresource (see {@link conditionPatch}). */
  setCondition(
    name: string,
    condition: DesiredCondition,
    opts?: { heartbeatMs?: number },
  ): Promise<WriteResult>;
  /** Removes the condition of this type through the status subresource (uninstall clean-up). */
  removeCondition(name: string, type: string): Promise<WriteResult>;
  /** Sets (string) or removes (null) annotations. */
  setAnnotations(name: string, annotations: Readonly<Record<string, string | null>>): Promise<WriteResult>;
}

/**
 * How often a conflicting write is re-read and retried before giving up. Conflicts need another
 * writer changing the same Node between our read and write; a few retries with jitter resolve
 * even a burst of writers.
 */
const MAX_CONFLICT_RETRIES = 30;

/** NodeApi over a real API server. */
export class KubeNodeApi implements NodeApi {
  readonly #client: KubeClient;
  readonly #clock: Clock;

  constructor(client: KubeClient, clock: Clock = systemClock) {
    this.#client = client;
    this.#clock = clock;
  }

  async get(name: string): Promise<Node | null> {
    try {
      return await this.#client.core.readNode({ name });
    } catch (err) {
      if (httpStatus(err) === 404) return null;
      throw apiError(`get node ${name}`, err);
    }
  }

  async list(labelSelector?: string): Promise<Node[]> {
    try {
      const list = await this.#client.core.listNode(labelSelector ? { labelSelector } : {});
      return list.items;
    } catch (err) {
      throw apiError('list nodes', err);
    }
  }

  async watch(
    handlers: ReflectorHandlers<Node>,
    opts: { name?: string; labelSelector?: string } = {},
  ): Promise<Reflector<Node>> {
    const params: Record<string, string> = {};
    if (opts.name) params.fieldSelector = `metadata.name=${opts.name}`;
    if (opts.labelSelector) params.labelSelector = opts.labelSelector;
    const transport = this.#client.transport<Node>(
      '/api/v1/nodes',
      async () => {
        try {
          const list = await this.#client.core.listNode(params);
          return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
        } catch (err) {
          throw apiError('list nodes', err);
        }
      },
      params,
    );
    const reflector = new Reflector(transport, handlers);
    await reflector.start();
    return reflector;
  }

  async setTaint(name: string, taint: Taint, want: 'present' | 'absent'): Promise<WriteResult> {
    return this.#retrying(
      `${want === 'present' ? 'add' : 'remove'} taint ${taint.key} on node ${name}`,
      name,
      (node) => {
        const ops = taintPatch(node, taint, want);
        return ops && (() => this.#jsonPatch(name, ops));
      },
    );
  }

  async setCondition(
    name: string,
    condition: DesiredCondition,
    opts: { heartbeatMs?: number } = {},
  ): Promise<WriteResult> {
    // A strategic-merge patch keyed by condition type needs no precondition: it cannot clobber
    // other conditions. Re-reading on every call keeps lastTransitionTime right after a flip by
    // someone else.
    const node = await this.#mustGet(name);
    const patch = conditionPatch(node, condition, this.#clock.now(), opts.heartbeatMs);
    if (!patch) return 'unchanged';
    await this.#statusPatch(name, patch, `set condition ${condition.type} on node ${name}`);
    return 'changed';
  }

  async removeCondition(name: string, type: string): Promise<WriteResult> {
    const node = await this.#mustGet(name);
    const patch = removeConditionPatch(node, type);
    if (!patch) return 'unchanged';
    await this.#statusPatch(name, patch, `remove condition ${type} from node ${name}`);
    return 'changed';
  }

  async setAnnotations(
    name: string,
    annotations: Readonly<Record<string, string | null>>,
  ): Promise<WriteResult> {
    const node = await this.#mustGet(name);
    const patch = annotationsPatch(node, annotations);
    if (!patch) return 'unchanged';
    try {
      await this.#client.core.patchNode(
        { name, body: patch },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (err) {
      throw apiError(`annotate node ${name}`, err);
    }
    return 'changed';
  }

  async #mustGet(name: string): Promise<Node> {
    const node = await this.get(name);
    if (!node) throw new NetwardenError('kube-api', `node ${name} not found`);
    return node;
  }

  /** A strategic-merge patch of the status subresource (conditions merge by type). */
  async #statusPatch(name: string, body: object, what: string): Promise<void> {
    try {
      await this.#client.core.patchNodeStatus(
        { name, body },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
    } catch (err) {
      throw apiError(what, err);
    }
  }

  async #jsonPatch(name: string, ops: JsonPatchOp[]): Promise<void> {
    await this.#client.core.patchNode(
      { name, body: ops },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
  }

  /**
   * Read-compute-write with optimistic concurrency. `plan` returns null when nothing is to be
   * done, or the write. A failed JSON-patch `test` (HTTP 422) or a 409 means someone else wrote
   * the Node in between: re-read and plan again.
   */
  async #retrying(
    what: string,
    name: string,
    plan: (node: Node) => (() => Promise<void>) | null,
  ): Promise<WriteResult> {
    for (let attempt = 1; ; attempt++) {
      const node = await this.#mustGet(name);
      const write = plan(node);
      if (!write) return 'unchanged';
      try {
        await write();
        return 'changed';
      } catch (err) {
        const status = httpStatus(err);
        const conflict = status === 409 || status === 422;
        if (!conflict || attempt >= MAX_CONFLICT_RETRIES) throw apiError(what, err);
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(200, 10 * attempt)));
      }
    }
  }
}
