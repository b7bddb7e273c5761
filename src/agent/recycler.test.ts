import { Registry } from 'prom-client';
import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.ts';
import type { Pod } from '../core/objects.ts';
import {
  DEFAULT_RECYCLE_LIMITS,
  initialLimiterState,
  type LimiterState,
  type RecycleLimits,
} from '../core/rate-limit.ts';
import { type RecycleDecision, selectRecycleCandidates } from '../core/recycle-policy.ts';
import { NetwardenError } from '../errors.ts';
import type { EventApi, EventSpec } from '../kube/events.ts';
import type { EvictionApi, EvictionResult } from '../kube/eviction.ts';
import { FakeCluster } from '../kube/fake.ts';
import { type RecycleRoundResult, Recycler } from './recycler.ts';

const NODE = 'node-a';
const READY_AT = Date.UTC(2026, 2, 1, 12, 0, 41);
const iso = (ms: number): string => new Date(ms).toISOString();

interface PodOpts {
  owner?: { kind: string; name: string; uid: string } | null;
  broken?: boolean;
  /** PodReadyToStartContainers time; default 38 s before data-path-ready. */
  netMs?: number;
  createdMs?: number;
  annotations?: Record<string, string>;
}

function mkPod(name: string, o: PodOpts = {}, uid = `uid-${name}`): Pod {
  const owner = o.owner === undefined ? { kind: 'ReplicaSet', name: 'web-abc', uid: 'rs-1' } : o.owner;
  const broken = o.broken ?? true;
  return {
    metadata: {
      namespace: 'app',
      name,
      uid,
      creationTimestamp: iso(o.createdMs ?? READY_AT - 3_600_000),
      ...(o.annotations ? { annotations: o.annotations } : {}),
      ...(owner ? { ownerReferences: [{ apiVersion: 'apps/v1', ...owner, controller: true }] } : {}),
    },
    spec: { nodeName: NODE, containers: [{ name: 'app' }] },
    status: {
      phase: 'Running',
      conditions: [
        {
          type: 'PodReadyToStartContainers',
          status: 'True',
          lastTransitionTime: iso(o.netMs ?? READY_AT - 38_000),
        },
        {
          type: 'ContainersReady',
          status: broken ? 'False' : 'True',
          lastTransitionTime: iso(READY_AT - 30_000),
        },
      ],
      containerStatuses: [
        {
          name: 'app',
          image: 'app',
          imageID: '',
          ready: !broken,
          restartCount: broken ? 4 : 0,
          state: broken ? { waiting: { reason: 'CrashLoopBackOff' } } : { running: {} },
        },
      ],
    },
  } as unknown as Pod;
}

/** Records every eviction call; in dry run never reaches the cluster (FakeCluster ignores dryRun). */
class RecordingEvictions implements EvictionApi {
  readonly calls: { key: string; dryRun: boolean; atMs: number }[] = [];
  readonly inner: EvictionApi;
  readonly clock: ManualClock;
  constructor(inner: EvictionApi, clock: ManualClock) {
    this.inner = inner;
    this.clock = clock;
  }
  async evict(namespace: string, name: string, opts: { dryRun?: boolean } = {}): Promise<EvictionResult> {
    this.calls.push({ key: `${namespace}/${name}`, dryRun: opts.dryRun === true, atMs: this.clock.now() });
    if (opts.dryRun) return { kind: 'evicted' };
    return this.inner.evict(namespace, name);
  }
}

/**
 * The cluster side of a PDB with maxUnavailable 1 over the node's pods, and of pod termination:
 * an evicted pod stays (with a deletionTimestamp) until `finishTermination`, and the disruption
 * lasts until its replacement is Ready (`replacementReady`).
 */
class PdbCluster implements EvictionApi {
  readonly disrupted = new Set<string>();
  readonly fake: FakeCluster;
  constructor(fake: FakeCluster) {
    this.fake = fake;
  }
  async evict(namespace: string, name: string): Promise<EvictionResult> {
    const key = `${namespace}/${name}`;
    if (this.disrupted.size >= 1)
      return {
        kind: 'blocked-by-pdb',
        message: "Cannot evict pod as it would violate the pod's disruption budget.",
      };
    const pod = this.fake.pods.get(key);
    if (!pod) return { kind: 'already-gone' };
    this.disrupted.add(key);
    this.fake.putPod({ ...pod, metadata: { ...pod.metadata, deletionTimestamp: new Date() } });
    return { kind: 'evicted' };
  }
  finishTermination(key: string): void {
    this.fake.pods.delete(key);
  }
  replacementReady(key: string): void {
    this.disrupted.delete(key);
  }
}

class FailingEvents implements EventApi {
  async emit(_e: EventSpec): Promise<void> {
    throw new NetwardenError('kube-api', 'events: 403 forbidden');
  }
}

async function metricValue(
  reg: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const m = (await reg.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

interface Harness {
  clock: ManualClock;
  fake: FakeCluster;
  registry: Registry;
  state: LimiterState;
  round(opts?: {
    dryRun?: boolean;
    evictions?: EvictionApi;
    events?: EventApi;
    limits?: RecycleLimits;
    problems?: Map<string, string[]>;
  }): Promise<RecycleRoundResult>;
}

function harness(pods: Pod[]): Harness {
  const clock = new ManualClock(READY_AT + 5 * 60_000);
  const fake = new FakeCluster(clock);
  for (const p of pods) fake.putPod(p);
  const registry = new Registry();
  const h: Harness = {
    clock,
    fake,
    registry,
    state: initialLimiterState('boot-2'),
    async round(opts = {}) {
      const live = await fake.listOnNode(NODE);
      const decisions = selectRecycleCandidates({
        node: { name: NODE, bootId: 'boot-2', datapathReadyAtMs: READY_AT },
        pods: live,
        now: clock.now(),
        ...(opts.problems ? { podNetworkProblems: opts.problems } : {}),
      });
      const recycler = new Recycler({
        evictions: opts.evictions ?? fake,
        events: opts.events ?? fake,
        clock,
        registry,
        nodeName: NODE,
        dryRun: opts.dryRun ?? false,
        limits: opts.limits ?? DEFAULT_RECYCLE_LIMITS,
      });
      const res = await recycler.round({
        decisions,
        state: h.state,
        livePodUids: new Set(live.map((p) => p.metadata?.uid ?? '')),
        datapathReadyAtMs: READY_AT,
      });
      h.state = res.state;
      return res;
    },
  };
  return h;
}

const names = (xs: readonly { pod: { name: string } }[]): string[] => xs.map((x) => x.pod.name);
const evictedKeys = (fake: FakeCluster): string[] =>
  fake.writes.flatMap((w) => (w.kind === 'evict' ? [`${w.name}:${w.result}`] : []));

describe('Recycler.round', () => {
  let h: Harness;
  beforeEach(() => {
    h = harness([
      mkPod('broken-1'),
      mkPod('healthy-early', { broken: false }),
      mkPod('late-app-bug', { netMs: READY_AT + 10_000 }),
      mkPod('bare', { owner: null }),
      mkPod('opted-out', { annotations: { 'netwarden.dev/recycle': 'never' } }),
    ]);
  });

  it('evicts the broken early pod, touches no healthy pod, reports the bare and opted-out ones', async () => {
    const { report } = await h.round();
    expect(names(report.evicted)).toEqual(['broken-1']);
    expect(evictedKeys(h.fake)).toEqual(['broken-1:evicted']);
    expect(report.reported.map((r) => `${r.pod.name}:${r.reason}`)).toEqual([
      'bare:Unowned',
      'opted-out:OptedOut',
    ]);
    expect([...h.fake.pods.keys()].sort()).toEqual([
      'app/bare',
      'app/healthy-early',
      'app/late-app-bug',
      'app/opted-out',
    ]);
    expect(report.errors).toEqual([]);
  });

  it('writes an Event on the pod and on the node with the reason and evidence', async () => {
    await h.round();
    const recycle = h.fake.events.filter((e) => e.reason === 'NetworkBeforeDataPathReady');
    expect(recycle.map((e) => e.subject)).toEqual([
      { kind: 'Pod', namespace: 'app', name: 'broken-1', uid: 'uid-broken-1' },
      { kind: 'Node', name: NODE },
    ]);
    for (const e of recycle) {
      expect(e.type).toBe('Normal');
      expect(e.note).toContain('network set up 12:00:03Z, 38s before data path ready 12:00:41Z');
      expect(e.note).toContain('container app CrashLoopBackOff (4 restarts)');
    }
    expect(recycle[1]?.note).toMatch(/^Pod app\/broken-1: /);
    const bare = h.fake.events.filter((e) => e.reason === 'Unowned');
    expect(bare.map((e) => `${e.type} ${e.subject.kind}`)).toEqual(['Warning Pod', 'Warning Node']);
  });

  it('counts recycles, blocks and the time from data-path-ready to the last recycle', async () => {
    await h.round();
    const r = h.registry;
    expect(
      await metricValue(r, 'netwarden_pods_recycled_total', { reason: 'NetworkBeforeDataPathReady' }),
    ).toBe(1);
    expect(await metricValue(r, 'netwarden_recycle_blocked_total', { reason: 'unowned' })).toBe(1);
    expect(await metricValue(r, 'netwarden_recycle_blocked_total', { reason: 'opted-out' })).toBe(1);
    expect(await metricValue(r, 'netwarden_recycle_after_datapath_ready_seconds')).toBe(300);
    expect(await metricValue(r, 'netwarden_recycles_in_flight')).toBe(1);
  });

  it('reports a pod once per boot: later rounds list it but write no Event and count nothing', async () => {
    await h.round();
    const events = h.fake.events.length;
    h.clock.advance(10_000);
    const { report } = await h.round();
    expect(names(report.reported)).toEqual(['bare', 'opted-out']);
    expect(h.fake.events.length).toBe(events);
    expect(await metricValue(h.registry, 'netwarden_recycle_blocked_total', { reason: 'unowned' })).toBe(1);
  });

  it('dry run: server-side dry-run evictions only, no Events, no metrics, state unchanged', async () => {
    const ev = new RecordingEvictions(h.fake, h.clock);
    const before = h.state;
    const { report, state } = await h.round({ dryRun: true, evictions: ev });
    expect(ev.calls).toEqual([{ key: 'app/broken-1', dryRun: true, atMs: h.clock.now() }]);
    expect(report.dryRun).toBe(true);
    expect(names(report.evicted)).toEqual(['broken-1']);
    expect(h.fake.pods.size).toBe(5);
    expect(h.fake.writes).toEqual([]);
    expect(state).toBe(before);
    expect((await h.registry.getMetricsAsJSON()).flatMap((m) => m.values).every((v) => v.value === 0)).toBe(
      true,
    );
  });

  it('already-gone counts as done: no Event, nothing in flight, no back-off', async () => {
    h.fake.evictionAnswers.set('app/broken-1', [{ kind: 'already-gone' }]);
    const { report, state } = await h.round();
    expect(report.evicted.map((e) => e.outcome)).toEqual(['already-gone']);
    expect(state.inFlight).toEqual([]);
    expect(state.backoff).toEqual({});
    expect(h.fake.events.some((e) => e.subject.name === 'broken-1')).toBe(false);
    expect(
      await metricValue(h.registry, 'netwarden_pods_recycled_total', {
        reason: 'NetworkBeforeDataPathReady',
      }),
    ).toBe(0);
  });

  it('an API error is listed, backs the pod off, and does not stop the round', async () => {
    h.fake.putPod(mkPod('broken-2', { owner: { kind: 'ReplicaSet', name: 'api', uid: 'rs-2' } }));
    const failing: EvictionApi = {
      evict: async (ns, name) => {
        if (name === 'broken-1')
          throw new NetwardenError('kube-api', 'evict pod app/broken-1: 500 etcdserver: request timed out');
        return h.fake.evict(ns, name);
      },
    };
    const { report, state } = await h.round({ evictions: failing });
    expect(report.errors).toEqual([
      {
        pod: expect.objectContaining({ name: 'broken-1' }),
        what: 'evict',
        error: 'evict pod app/broken-1: 500 etcdserver: request timed out',
      },
    ]);
    expect(names(report.evicted)).toEqual(['broken-2']);
    expect(state.backoff['uid-broken-1']?.lastReason).toBe('error');
    expect(await metricValue(h.registry, 'netwarden_recycle_blocked_total', { reason: 'error' })).toBe(1);
  });

  it('a failing Event write does not undo the eviction', async () => {
    const { report } = await h.round({ events: new FailingEvents() });
    expect(names(report.evicted)).toEqual(['broken-1']);
    expect(report.errors.filter((e) => e.what === 'event').length).toBe(6); // pod + node, for 3 pods
    expect(h.fake.pods.has('app/broken-1')).toBe(false);
  });

  it('a second Recycler on the same registry reuses the metrics', () => {
    const deps = {
      evictions: h.fake,
      events: h.fake,
      clock: h.clock,
      registry: h.registry,
      nodeName: NODE,
      dryRun: false,
    };
    expect(() => {
      new Recycler(deps);
      new Recycler(deps);
    }).not.toThrow();
  });
});

describe('Recycler with a PodDisruptionBudget allowing one disruption', () => {
  it('recycles one pod at a time, retries 429s on later rounds after back-off, never deletes around the PDB', async () => {
    const pods = ['w-1', 'w-2', 'w-3'].map((n) => mkPod(n));
    const h = harness(pods);
    const pdb = new PdbCluster(h.fake);
    const ev = new RecordingEvictions(pdb, h.clock);
    const limits = { ...DEFAULT_RECYCLE_LIMITS, maxConcurrent: 3 };
    const order: string[] = [];
    for (let i = 0; i < 40 && order.length < 3; i++) {
      const { report } = await h.round({ evictions: ev, limits });
      order.push(...report.evicted.map((e) => e.pod.name));
      expect(report.evicted.length).toBeLessThanOrEqual(1);
      for (const b of report.blocked) {
        expect(['pdb', 'backoff']).toContain(b.reason);
        // refused means left alone: the pod is still there, not deleted around the budget
        expect(h.fake.pods.get(b.pod.key)?.metadata?.deletionTimestamp).toBeUndefined();
      }
      // the cluster: terminate the evicted pod, then make its replacement Ready a round later
      for (const key of [...pdb.disrupted]) {
        if (h.fake.pods.has(key)) pdb.finishTermination(key);
        else pdb.replacementReady(key);
      }
      h.clock.advance(5_000);
    }
    expect(order).toEqual(['w-1', 'w-2', 'w-3']);
    // every call went through the Eviction API; a refused pod was not asked again before its back-off ended
    const refusedAt = new Map<string, number>();
    for (const c of ev.calls) {
      const prev = refusedAt.get(c.key);
      if (prev !== undefined) expect(c.atMs).toBeGreaterThanOrEqual(prev);
      refusedAt.set(c.key, c.atMs + 10_000);
    }
    expect(
      await metricValue(h.registry, 'netwarden_recycle_blocked_total', { reason: 'pdb' }),
    ).toBeGreaterThan(0);
    expect(
      await metricValue(h.registry, 'netwarden_pods_recycled_total', {
        reason: 'NetworkBeforeDataPathReady',
      }),
    ).toBe(3);
  });

  it('a throttled (non-PDB) 429 is also retried later', async () => {
    const h = harness([mkPod('w-1')]);
    h.fake.evictionAnswers.set('app/w-1', [{ kind: 'throttled', message: 'too many requests' }]);
    const first = await h.round();
    expect(first.report.blocked).toEqual([
      {
        pod: expect.objectContaining({ name: 'w-1' }),
        reason: 'throttled',
        detail: 'too many requests',
        retryAtMs: h.clock.now() + 10_000,
      },
    ]);
    h.clock.advance(5_000);
    expect((await h.round()).report.blocked.map((b) => b.reason)).toEqual(['backoff']);
    h.clock.advance(5_000);
    expect(names((await h.round()).report.evicted)).toEqual(['w-1']);
  });
});

describe('Recycler limits', () => {
  it('keeps to maxConcurrent while evicted pods are still terminating', async () => {
    const owners = ['a', 'b', 'c'].map((n) => ({ kind: 'ReplicaSet', name: n, uid: `rs-${n}` }));
    const h = harness(owners.map((o, i) => mkPod(`p-${i}`, { owner: o })));
    const terminating: EvictionApi = {
      evict: async (ns, name) => {
        const pod = h.fake.pods.get(`${ns}/${name}`);
        if (pod) h.fake.putPod({ ...pod, metadata: { ...pod.metadata, deletionTimestamp: new Date() } });
        return { kind: 'evicted' };
      },
    };
    const limits = { ...DEFAULT_RECYCLE_LIMITS, maxConcurrent: 1 };
    const r1 = await h.round({ evictions: terminating, limits });
    expect(names(r1.report.evicted)).toEqual(['p-0']);
    expect(r1.report.blocked.map((b) => b.reason)).toEqual(['concurrency', 'concurrency']);
    h.clock.advance(5_000);
    const r2 = await h.round({ evictions: terminating, limits });
    expect(r2.report.evicted).toEqual([]);
    h.fake.pods.delete('app/p-0');
    h.clock.advance(5_000);
    const r3 = await h.round({ evictions: terminating, limits });
    expect(names(r3.report.evicted)).toEqual(['p-1']);
    expect(await metricValue(h.registry, 'netwarden_recycle_blocked_total', { reason: 'rate-limit' })).toBe(
      5,
    );
  });

  it('recycles a StatefulSet one pod at a time', async () => {
    const sts = { kind: 'StatefulSet', name: 'db', uid: 'sts-1' };
    const h = harness([mkPod('db-0', { owner: sts }), mkPod('db-1', { owner: sts })]);
    const terminating: EvictionApi = {
      evict: async (ns, name) => {
        const pod = h.fake.pods.get(`${ns}/${name}`);
        if (pod) h.fake.putPod({ ...pod, metadata: { ...pod.metadata, deletionTimestamp: new Date() } });
        return { kind: 'evicted' };
      },
    };
    const r1 = await h.round({ evictions: terminating });
    expect(names(r1.report.evicted)).toEqual(['db-0']);
    expect(r1.report.blocked).toEqual([
      {
        pod: expect.objectContaining({ name: 'db-1' }),
        reason: 'statefulset-in-progress',
        detail: 'app/db-0 of the same StatefulSet is still being recycled',
      },
    ]);
    h.fake.pods.delete('app/db-0');
    h.clock.advance(5_000);
    expect(names((await h.round({ evictions: terminating })).report.evicted)).toEqual(['db-1']);
  });

  it('loop breaker: a replacement that is broken again is recycled once more, then RecyclingDidNotHeal', async () => {
    // db-0's per-pod rules keep disappearing (a finding names it every round), so every replacement is broken
    const sts = { kind: 'StatefulSet', name: 'db', uid: 'sts-1' };
    const h = harness([mkPod('db-0', { owner: sts })]);
    const problems = new Map([
      ['app/db-0', ['pod-rule-missing: missing 512: from all to 10.0.80.10 lookup main']],
    ]);
    const replace = (gen: number) => {
      const now = h.clock.now();
      h.fake.putPod(mkPod('db-0', { owner: sts, createdMs: now, netMs: now + 1_000 }, `uid-db-0-v${gen}`));
      h.clock.advance(5 * 60_000);
    };
    const r1 = await h.round({ problems });
    expect(r1.report.evicted.map((e) => `${e.reason} gen ${e.generation}`)).toEqual([
      'NetworkBeforeDataPathReady gen 1',
    ]);
    replace(2);
    const r2 = await h.round({ problems });
    expect(r2.report.evicted.map((e) => `${e.reason} gen ${e.generation}`)).toEqual([
      'PodNetworkStateMissing gen 2',
    ]);
    replace(3);
    const r3 = await h.round({ problems });
    expect(r3.report.evicted).toEqual([]);
    expect(r3.report.blocked.map((b) => b.reason)).toEqual(['loop-breaker']);
    expect(r3.report.reported.map((r) => r.reason)).toEqual(['RecyclingDidNotHeal']);
    expect(r3.report.notHealed).toEqual(['StatefulSet/app/db:sts-1']);
    expect(
      h.fake.events
        .filter((e) => e.reason === 'RecyclingDidNotHeal')
        .map((e) => `${e.type} ${e.subject.kind}`),
    ).toEqual(['Warning Pod', 'Warning Node']);
    // later rounds: still stopped, no new Events
    h.clock.advance(60_000);
    const r4 = await h.round({ problems });
    expect(r4.report.evicted).toEqual([]);
    expect(h.fake.events.filter((e) => e.reason === 'RecyclingDidNotHeal')).toHaveLength(2);
    expect(await metricValue(h.registry, 'netwarden_recycle_blocked_total', { reason: 'loop-breaker' })).toBe(
      1,
    );
    expect(evictedKeys(h.fake)).toEqual(['db-0:evicted', 'db-0:evicted']);
  });

  it('takes decisions as given: skip decisions are ignored', async () => {
    const h = harness([]);
    const skipOnly: RecycleDecision = {
      pod: { namespace: 'app', name: 'x', uid: 'u', key: 'app/x' },
      action: 'skip',
      reason: 'Healthy',
      explanation: 'healthy',
      evidence: [],
    };
    const recycler = new Recycler({
      evictions: h.fake,
      events: h.fake,
      clock: h.clock,
      registry: h.registry,
      nodeName: NODE,
      dryRun: false,
    });
    const { report } = await recycler.round({
      decisions: [skipOnly],
      state: h.state,
      livePodUids: new Set(['u']),
    });
    expect([report.evicted, report.blocked, report.reported, h.fake.writes]).toEqual([[], [], [], []]);
  });
});
