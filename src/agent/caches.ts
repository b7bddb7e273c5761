/**
 * The agent's view of the cluster, kept by its watches: its own Node, the Nodes netwarden gates
 * (by the gated label: the breaker's input), Services, EndpointSlices and this node's Pods. No
 * agent watches every Node: on a large cluster each Node status change would reach every agent.
 */
import {
  type EndpointSlice,
  type Node,
  objectKey,
  type Pod,
  type Service,
  sliceServiceKey,
} from '../core/objects.ts';
import type { ClusterState } from '../netfilter/cluster-state.ts';
import { slimEndpointSlice, slimNode, slimPod, slimService } from './slim.ts';

const SLIM = {
  node: slimNode,
  gated: slimNode,
  services: slimService,
  slices: slimEndpointSlice,
  pods: slimPod,
} as const;

/** The watches the caches are filled by. */
export type CacheKind = keyof typeof SLIM;

/** The caches the agent's watches fill. */
export interface AgentCaches {
  node(): Node | undefined;
  /** The selected Nodes carrying the gated label (this one too, when it does). */
  gatedNodes(): readonly Node[];
  cluster(): ClusterState;
  /** Pods bound to this node. */
  pods(): readonly Pod[];
  /**
   * Moves whenever what the expected state is built from changes: a settled Service's object or
   * slices change (it leaves the expected state while it settles), or a Service settles.
   */
  generation(): number;
  synced(): boolean;
}

/**
 * Keeps the latest objects from the watches, for the checks and the gate. A Service whose object
 * or EndpointSlices changed less than `settleMs` ago is left out of the expected state: kube-proxy
 * needs a moment (its min sync period, then iptables-restore) to program a change, and normal
 * Service churn must not look like a broken node. Objects from the initial list count as settled.
 */
export class WatchCaches implements AgentCaches {
  readonly #self: string;
  /** This node, from its own watch (by name). */
  readonly #node = new Map<string, Node>();
  readonly #gated = new Map<string, Node>();
  readonly #services = new Map<string, Service>();
  readonly #slices = new Map<string, EndpointSlice>();
  readonly #pods = new Map<string, Pod>();
  readonly #synced = new Set<string>();
  /** `namespace/service` → when it (or one of its slices) last changed after the initial list. */
  readonly #changedAt = new Map<string, number>();
  #generation = 0;
  /** The last {@link cluster} answer; dropped by any Service, EndpointSlice or Pod event. */
  #clusterView: { generation: number; state: ClusterState } | undefined;
  #selfBoot: string | undefined;
  readonly #expect: number;
  readonly #settleMs: number;
  readonly #now: () => number;

  /** `expect` is the number of watches that must report synced before the caches are usable. */
  constructor(self: string, opts: { expect?: number; settleMs?: number; now?: () => number } = {}) {
    this.#self = self;
    this.#expect = opts.expect ?? 5;
    this.#settleMs = opts.settleMs ?? 10_000;
    this.#now = opts.now ?? Date.now;
  }

  node(): Node | undefined {
    return this.#node.get(this.#self);
  }
  gatedNodes(): readonly Node[] {
    return [...this.#gated.values()];
  }
  cluster(): ClusterState {
    const now = this.#now();
    const unsettled = this.#refreshSettled(now);
    // Several checks ask each round; rebuilding thousands of entries each time is pure garbage.
    if (this.#clusterView?.generation === this.#generation) return this.#clusterView.state;
    const state: ClusterState = {
      services: [...this.#services.values()].filter(
        (s) => !unsettled.has(`${s.metadata?.namespace}/${s.metadata?.name}`),
      ),
      endpointSlices: [...this.#slices.values()].filter((s) => !unsettled.has(sliceService(s))),
      pods: [...this.#pods.values()],
    };
    this.#clusterView = { generation: this.#generation, state };
    return state;
  }
  synced(): boolean {
    return this.#synced.size >= this.#expect;
  }
  generation(): number {
    this.#refreshSettled(this.#now());
    return this.#generation;
  }

  /**
   * The Services still settling. One that settles now moves the generation when the cache holds
   * its Service object: it enters the expected state without any watch event. One whose Service is
   * gone (deleted while it settled) leaves the expected state as it was.
   */
  #refreshSettled(now: number): Set<string> {
    const unsettled = new Set<string>();
    for (const [k, at] of this.#changedAt) {
      if (now - at < this.#settleMs) unsettled.add(k);
      else {
        this.#changedAt.delete(k); // settled: forget it, the map stays small
        if (this.#services.has(k)) this.#generation++;
        else this.#clusterView = undefined; // its slices (if any) rejoin the view, not the expected state
      }
    }
    return unsettled;
  }

  /** A watch event after `kind`'s initial list: Services and EndpointSlices start settling. */
  #afterInitialList(
    kind: CacheKind,
    key: string,
    before: { metadata?: object } | undefined,
    object: { metadata?: object },
  ): void {
    const now = this.#now();
    if (kind === 'services') this.#serviceChanged(key, before !== undefined, now);
    if (kind !== 'slices') return;
    const svc = sliceService(object);
    this.#serviceChanged(svc, this.#services.has(svc), now);
    // A slice moved to another Service (its label changed) changes the one it left too.
    const left = before !== undefined ? sliceService(before) : svc;
    if (left !== svc) this.#serviceChanged(left, this.#services.has(left), now);
  }

  /**
   * The Service `svc` (`namespace/name`) changed: it starts settling (again), and the generation
   * moves only when that changes the expected state, i.e. when the Service was settled and its object held before the event (it
   * now leaves the expected state until it settles). A new Service, or an event of one still
   * settling, changes nothing the expected state is built from (it is built from settled Services
   * only): no full rule read is owed for it until it settles.
   */
  #serviceChanged(svc: string, heldBefore: boolean, now: number): void {
    const at = this.#changedAt.get(svc);
    const settledBefore = at === undefined || now - at >= this.#settleMs;
    this.#changedAt.set(svc, now);
    if (settledBefore && heldBefore) this.#generation++;
  }

  /** Pods of this node. */
  pods(): readonly Pod[] {
    return [...this.#pods.values()];
  }

  /** Handlers for one watch, storing into the right map. */
  handlers<T extends { metadata?: { name?: string; namespace?: string; uid?: string } }>(
    kind: CacheKind,
    onChange?: () => void,
  ) {
    const map = {
      node: this.#node,
      gated: this.#gated,
      services: this.#services,
      slices: this.#slices,
      pods: this.#pods,
    }[kind] as Map<string, T>;
    const isNode = kind === 'node' || kind === 'gated';
    return {
      // Only the fields the checks, the gate and repair read are kept (slim.ts), before the
      // reflector stores the object: at 10,000 Services the rest (managedFields, targetRefs,
      // annotations…) is most of the memory.
      keep: (obj: T): T => SLIM[kind](obj as never) as unknown as T,
      // The reflector keeps no map beside this one: it reads this one, which onEvent keeps.
      store: map,
      onEvent: (ev: { type: string; object: T }) => {
        // By the reflector's key (`namespace/name`, a Node's name), as `store` promises; for
        // Services and EndpointSlices also the key their settling is tracked by.
        const k = objectKey(ev.object);
        const before = map.get(k);
        // The object as `keep` left it: the reflector's copy, not a second one.
        if (ev.type === 'DELETED') map.delete(k);
        else map.set(k, ev.object);
        if (!isNode) this.#clusterView = undefined;
        if (this.#synced.has(kind)) this.#afterInitialList(kind, k, before, ev.object);
        // Of the nodes, only a new boot of this one wakes the loop early (the gate must close at
        // once); the kubelet's periodic status updates must not turn into extra rounds.
        if (!isNode) onChange?.();
        else if (kind === 'node' && k === this.#self) {
          const boot = (ev.object as Node).status?.nodeInfo?.bootID;
          if (boot !== this.#selfBoot) {
            this.#selfBoot = boot;
            onChange?.();
          }
        }
      },
      onSynced: () => this.#synced.add(kind),
    };
  }
}

/** The Service an EndpointSlice belongs to; `''` (no Service) for a slice without the label. */
function sliceService(s: { metadata?: { namespace?: string; labels?: Record<string, string> } }): string {
  return sliceServiceKey(s) ?? '';
}
