/**
 * Reading and writing Nodes: get/list/watch, one taint, one condition, annotations. Every write is
 * idempotent (no request when the Node is already as wanted) and race-safe (see node-patches.ts).
 */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { type Clock, systemClock } from '../core/clock.ts';
import { NetwardenError } from '../errors.ts';
import { httpStatus, KubeApiError, type KubeClient } from './client.ts';
import {
  annotationsPatch,
  conditionPatch,
  type DesiredCondition,
  type JsonPatchOp,
  removeConditionPatch,
  taintPatch,
} from './node-patches.ts';
import { decodeNodeWatchEvent } from './proto-node.ts';
import { backoffMs, CONFLICT_RETRY, writeFailure } from './retry.ts';
import type { Node, Taint, WriteResult } from './types.ts';
import { Reflector, type ReflectorHandlers, type WatchEncoding } from './watch.ts';

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
  /**
   * Makes the taint (by key and effect) present or absent (or leaves it: `keep`); with `label`,
   * that label follows it in the same request (present while the taint is, see {@link taintPatch}).
   */
  setTaint(
    name: string,
    taint: Taint,
    want: 'present' | 'absent' | 'keep',
    opts?: { label?: string },
  ): Promise<WriteResult>;
  /**
   * How many Nodes exist (matching `labelSelector`), as cheaply as the API server allows: a
   * metadata-only list of one item whose `remainingItemCount` gives the rest; where the server
   * leaves that out (it does for label selectors), metadata-only pages are counted. The API calls
   * remainingItemCount an estimate (writes during the list may move it): good for a share.
   */
  count(labelSelector?: string): Promise<number>;
  /** Sets one condition through the status subresource (see {@link conditionPatch}). */
  setCondition(name: string, condition: DesiredCondition): Promise<WriteResult>;
  /** Removes the condition of this type through the status subresource (uninstall clean-up). */
  removeCondition(name: string, type: string): Promise<WriteResult>;
  /** Sets (string) or removes (null) annotations. */
  setAnnotations(name: string, annotations: Readonly<Record<string, string | null>>): Promise<WriteResult>;
}

/** Page size, and a bound on pages, of {@link KubeNodeApi.count} when it has to page (200,000 Nodes). */
const COUNT_PAGE = 500;
const COUNT_MAX_PAGES = 400;

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
      return await this.#client.call(`get node ${name}`, (o) => this.#client.core.readNode({ name }, o));
    } catch (err) {
      if (httpStatus(err) === 404) return null;
      throw err;
    }
  }

  async list(labelSelector?: string): Promise<Node[]> {
    const params = labelSelector ? { labelSelector } : {};
    return (await this.#client.call('list nodes', (o) => this.#client.core.listNode(params, o))).items;
  }

  /**
   * Lists, then watches Nodes (one by `name`, or by `labelSelector`). The watch speaks protobuf
   * (proto-node.ts), as kube-proxy and the kubelet do: every kubelet status update reaches each
   * watcher of its Node, and as protobuf it is a fraction of its JSON. `encoding: 'json'` reads the
   * same watch as JSON (the parity test compares the two).
   */
  async watch(
    handlers: ReflectorHandlers<Node>,
    opts: { name?: string; labelSelector?: string; encoding?: WatchEncoding } = {},
  ): Promise<Reflector<Node>> {
    const params: Record<string, string> = {};
    if (opts.name) params.fieldSelector = `metadata.name=${opts.name}`;
    if (opts.labelSelector) params.labelSelector = opts.labelSelector;
    const transport = this.#client.transport<Node>(
      '/api/v1/nodes',
      params,
      opts.encoding === 'json' ? {} : { protobuf: decodeNodeWatchEvent },
    );
    const reflector = new Reflector(transport, handlers);
    await reflector.start();
    return reflector;
  }

  async setTaint(
    name: string,
    taint: Taint,
    want: 'present' | 'absent' | 'keep',
    opts: { label?: string } = {},
  ): Promise<WriteResult> {
    return this.#retrying(
      `${want === 'present' ? 'add' : want === 'absent' ? 'remove' : 'keep'} taint ${taint.key}${opts.label ? ` (and label ${opts.label})` : ''} on node ${name}`,
      name,
      (node) => taintPatch(node, taint, want, opts.label),
    );
  }

  async count(labelSelector?: string): Promise<number> {
    // PartialObjectMetadataList: names and labels only, a few hundred bytes per Node instead of ~6 KB.
    const accept = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
    let total = 0;
    let token: string | undefined;
    for (let page = 0; page < COUNT_MAX_PAGES; page++) {
      const limit = page === 0 ? 1 : COUNT_PAGE;
      const list = await this.#client.call('count nodes', (o) =>
        this.#client.core.listNode(
          { limit, ...(labelSelector ? { labelSelector } : {}), ...(token ? { _continue: token } : {}) },
          setHeaderOptions('Accept', accept, o),
        ),
      );
      // An empty PartialObjectMetadataList comes with `items: null`.
      total += (list.items ?? []).length;
      const remaining = list.metadata?.remainingItemCount;
      if (remaining !== undefined && remaining !== null) return total + Number(remaining);
      token = list.metadata?._continue || undefined;
      if (!token) return total;
    }
    throw new NetwardenError('kube-api', `count nodes: more than ${COUNT_MAX_PAGES} pages`);
  }

  async setCondition(name: string, condition: DesiredCondition): Promise<WriteResult> {
    // A strategic-merge patch keyed by condition type needs no precondition: it cannot clobber
    // other conditions. Re-reading on every call keeps lastTransitionTime right after a flip by
    // someone else.
    const node = await this.#mustGet(name);
    const patch = conditionPatch(node, condition, this.#clock.now());
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
    await this.#client.call(`annotate node ${name}`, (o) =>
      this.#client.core.patchNode(
        { name, body: patch },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch, o),
      ),
    );
    return 'changed';
  }

  async #mustGet(name: string): Promise<Node> {
    const node = await this.get(name);
    if (!node) throw new NetwardenError('kube-api', `node ${name} not found`);
    return node;
  }

  /** A strategic-merge patch of the status subresource (conditions merge by type). */
  async #statusPatch(name: string, body: object, what: string): Promise<void> {
    await this.#client.call(what, (o) =>
      this.#client.core.patchNodeStatus(
        { name, body },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch, o),
      ),
    );
  }

  async #jsonPatch(what: string, name: string, ops: JsonPatchOp[]): Promise<void> {
    await this.#client.call(what, (o) =>
      this.#client.core.patchNode(
        { name, body: ops },
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch, o),
      ),
    );
  }

  /**
   * Read-compute-write with optimistic concurrency. `plan` returns null when nothing is to be
   * done, or the JSON patch (with `test` ops). A conflict — 409, or a failed `test` told apart
   * from other 422s by re-reading the Node (see writeFailure) — re-reads and plans again after a
   * short jittered back-off, a bounded number of times; any other failure is thrown.
   */
  async #retrying(
    what: string,
    name: string,
    plan: (node: Node) => JsonPatchOp[] | null,
  ): Promise<WriteResult> {
    for (let attempt = 1; ; attempt++) {
      const node = await this.#mustGet(name);
      const ops = plan(node);
      if (!ops) return 'unchanged';
      try {
        await this.#jsonPatch(what, name, ops);
        return 'changed';
      } catch (err) {
        const status = httpStatus(err);
        const causes = err instanceof KubeApiError ? err.causes : [];
        const after = status === 422 ? (await this.get(name))?.metadata?.resourceVersion : undefined;
        const kind = writeFailure(status, causes, node.metadata?.resourceVersion, after);
        if (kind === 'error' || attempt >= CONFLICT_RETRY.maxAttempts) throw err;
        await new Promise((r) => setTimeout(r, backoffMs(attempt, CONFLICT_RETRY)));
      }
    }
  }
}
