/**
 * In-memory fakes of the kube/ interfaces, for unit tests of pure logic only (agent decisions,
 * repair policy). They apply the same pure patch functions as the real implementations and record
 * every write. Integration tests use the real API server instead.
 */
import { type Clock, systemClock } from '../core/clock.ts';
import { NetwardenError } from '../errors.ts';
import type { EventApi, EventSpec } from './events.ts';
import type { EvictionApi, EvictionResult } from './eviction.ts';
import {
  annotationsPatch,
  conditionPatch,
  type DesiredCondition,
  FOLLOWING_LABEL_VALUE,
  removeConditionPatch,
  taintPatch,
} from './node-patches.ts';
import type { NodeApi } from './nodes.ts';
import type { PodApi } from './pods.ts';
import type { Node, Pod, PodCondition, Taint, WriteResult } from './types.ts';
import type { Reflector, ReflectorHandlers } from './watch.ts';

/** A write the fake received, in order. */
export type FakeWrite =
  | { kind: 'taint'; node: string; key: string; want: 'present' | 'absent' | 'keep'; label?: string }
  | { kind: 'condition'; node: string; type: string; status: string }
  | { kind: 'condition-removed'; node: string; type: string }
  | { kind: 'annotations'; node: string; annotations: Record<string, string | null> }
  | { kind: 'evict'; namespace: string; name: string; result: EvictionResult['kind'] }
  | { kind: 'event'; reason: string; subject: string };

/** One in-memory cluster implementing NodeApi, PodApi, EvictionApi and EventApi. */
export class FakeCluster implements NodeApi, PodApi, EvictionApi, EventApi {
  readonly nodes = new Map<string, Node>();
  readonly pods = new Map<string, Pod>();
  readonly writes: FakeWrite[] = [];
  readonly events: EventSpec[] = [];
  /** When set, every call throws it (simulates an unreachable control plane). */
  failWith: Error | undefined;
  /** Per pod key (`ns/name`): what the next evictions answer; default `evicted`. */
  readonly evictionAnswers = new Map<string, EvictionResult[]>();
  readonly #clock: Clock;
  #rv = 1;

  constructor(clock: Clock = systemClock) {
    this.#clock = clock;
  }

  /** Adds or replaces a node (a deep copy), bumping its resourceVersion. */
  putNode(node: Node): void {
    const copy = structuredClone(node);
    copy.metadata = { ...copy.metadata, resourceVersion: String(this.#rv++) };
    this.nodes.set(copy.metadata.name ?? '', copy);
  }

  putPod(pod: Pod): void {
    const copy = structuredClone(pod);
    this.pods.set(`${copy.metadata?.namespace}/${copy.metadata?.name}`, copy);
  }

  async get(name: string): Promise<Node | null> {
    this.#check();
    const node = this.nodes.get(name);
    return node ? structuredClone(node) : null;
  }

  async list(): Promise<Node[]> {
    this.#check();
    return [...this.nodes.values()].map((n) => structuredClone(n));
  }

  async watch(): Promise<Reflector<Node>> {
    throw new NetwardenError('kube-api', 'FakeCluster does not implement watch; drive handlers directly');
  }

  async setTaint(
    name: string,
    taint: Taint,
    want: 'present' | 'absent' | 'keep',
    opts: { label?: string } = {},
  ): Promise<WriteResult> {
    const node = this.#node(name);
    if (!taintPatch(node, taint, want, opts.label)) return 'unchanged';
    const rest = (node.spec?.taints ?? []).filter((t) => !(t.key === taint.key && t.effect === taint.effect));
    const has = rest.length !== (node.spec?.taints ?? []).length;
    const present = want === 'keep' ? has : want === 'present';
    node.spec = { ...node.spec, taints: present ? [...rest, taint] : rest };
    if (opts.label) {
      const labels = { ...node.metadata?.labels };
      if (present) labels[opts.label] = FOLLOWING_LABEL_VALUE;
      else delete labels[opts.label];
      node.metadata = { ...node.metadata, labels };
    }
    this.#write(
      { kind: 'taint', node: name, key: taint.key, want, ...(opts.label ? { label: opts.label } : {}) },
      node,
    );
    return 'changed';
  }

  /** Label selectors `k` or `k=v[,…]` only. */
  async count(labelSelector?: string): Promise<number> {
    this.#check();
    const terms = (labelSelector ?? '').split(',').filter((t) => t !== '');
    return [...this.nodes.values()].filter((n) =>
      terms.every((t) => {
        const [k, v] = t.split('=') as [string, string | undefined];
        const have = n.metadata?.labels?.[k];
        return v === undefined ? have !== undefined : have === v;
      }),
    ).length;
  }

  async setCondition(name: string, c: DesiredCondition): Promise<WriteResult> {
    const node = this.#node(name);
    const patch = conditionPatch(node, c, this.#clock.now());
    if (!patch) return 'unchanged';
    const next = patch.status.conditions[0] as unknown as NonNullable<
      NonNullable<Node['status']>['conditions']
    >[number];
    const others = (node.status?.conditions ?? []).filter((x) => x.type !== c.type);
    node.status = { ...node.status, conditions: [...others, next] };
    this.#write({ kind: 'condition', node: name, type: c.type, status: c.status }, node);
    return 'changed';
  }

  async removeCondition(name: string, type: string): Promise<WriteResult> {
    const node = this.#node(name);
    if (!removeConditionPatch(node, type)) return 'unchanged';
    node.status = {
      ...node.status,
      conditions: (node.status?.conditions ?? []).filter((c) => c.type !== type),
    };
    this.#write({ kind: 'condition-removed', node: name, type }, node);
    return 'changed';
  }

  async setAnnotations(
    name: string,
    annotations: Readonly<Record<string, string | null>>,
  ): Promise<WriteResult> {
    const node = this.#node(name);
    const patch = annotationsPatch(node, annotations);
    if (!patch) return 'unchanged';
    const next = { ...node.metadata?.annotations };
    for (const [k, v] of Object.entries(patch.metadata.annotations)) {
      if (v === null) delete next[k];
      else next[k] = v;
    }
    node.metadata = { ...node.metadata, annotations: next };
    this.#write({ kind: 'annotations', node: name, annotations: patch.metadata.annotations }, node);
    return 'changed';
  }

  async listOnNode(nodeName: string): Promise<Pod[]> {
    this.#check();
    return [...this.pods.values()]
      .filter((p) => p.spec?.nodeName === nodeName)
      .map((p) => structuredClone(p));
  }

  async setPodCondition(namespace: string, name: string, condition: PodCondition): Promise<WriteResult> {
    this.#check();
    const pod = this.pods.get(`${namespace}/${name}`);
    if (!pod) return 'unchanged';
    const others = (pod.status?.conditions ?? []).filter((c) => c.type !== condition.type);
    pod.status = { ...pod.status, conditions: [...others, condition] };
    this.podConditionWrites.push({ pod: `${namespace}/${name}`, condition });
    return 'changed';
  }

  /** Every pod condition written, in order. */
  readonly podConditionWrites: { pod: string; condition: PodCondition }[] = [];

  /** Label selectors of the form `k=v[,k=v…]` only (what the agent uses). */
  async listMatching(selector: { labelSelector?: string }, limit: number): Promise<Pod[]> {
    this.#check();
    const want = (selector.labelSelector ?? '')
      .split(',')
      .filter((t) => t !== '')
      .map((t) => t.split('=') as [string, string]);
    return [...this.pods.values()]
      .filter((p) => want.every(([k, v]) => p.metadata?.labels?.[k] === v))
      .slice(0, limit)
      .map((p) => structuredClone(p));
  }

  async watchOnNode(_nodeName: string, _handlers: ReflectorHandlers<Pod>): Promise<Reflector<Pod>> {
    throw new NetwardenError('kube-api', 'FakeCluster does not implement watch; drive handlers directly');
  }

  /** Evicts like the API server: a stale `uid` (another pod by that name now) is a uid-mismatch. */
  async evict(namespace: string, name: string, uid?: string): Promise<EvictionResult> {
    this.#check();
    const key = `${namespace}/${name}`;
    const queued = this.evictionAnswers.get(key)?.shift();
    const pod = this.pods.get(key);
    const stale =
      pod !== undefined && uid !== undefined && pod.metadata?.uid !== undefined && pod.metadata.uid !== uid;
    const result: EvictionResult =
      queued ??
      (!pod
        ? { kind: 'already-gone' }
        : stale
          ? {
              kind: 'uid-mismatch',
              message: `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${pod.metadata?.uid}`,
            }
          : { kind: 'evicted' });
    if (result.kind === 'evicted') this.pods.delete(key);
    this.writes.push({ kind: 'evict', namespace, name, result: result.kind });
    return result;
  }

  async emit(event: EventSpec): Promise<void> {
    this.#check();
    this.events.push(event);
    this.writes.push({
      kind: 'event',
      reason: event.reason,
      subject: `${event.subject.kind}/${event.subject.name}`,
    });
  }

  #check(): void {
    if (this.failWith) throw this.failWith;
  }

  #node(name: string): Node {
    this.#check();
    const node = this.nodes.get(name);
    if (!node) throw new NetwardenError('kube-api', `node ${name} not found`);
    return node;
  }

  #write(w: FakeWrite, node: Node): void {
    node.metadata = { ...node.metadata, resourceVersion: String(this.#rv++) };
    this.writes.push(w);
  }
}
