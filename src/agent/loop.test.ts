import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import type { Check } from '../checks/check.ts';
import { reuseNftRead } from '../collect/nft-reads.ts';
import type { CheckStatus } from '../core/check.ts';
import { ManualClock } from '../core/clock.ts';
import {
  BOOT_ID_ANNOTATION,
  CONDITION_TYPE,
  GATED_LABEL,
  READY_AT_ANNOTATION,
  TAINT_EFFECT,
  TAINT_KEY,
} from '../core/gate.ts';
import type { EndpointSlice, Node, Pod, Service } from '../core/objects.ts';
import { POD_NETWORK_READY } from '../core/pod-readiness.ts';
import type { ProbeOutcome } from '../core/probe.ts';
import { readOk } from '../core/read.ts';
import type { NetnsLocation } from '../host/netns-locator.ts';
import { execResult } from '../host/testing.ts';
import { FakeCluster } from '../kube/fake.ts';
import { service } from '../netfilter/testing.ts';
import type { AgentCaches } from './caches.ts';
import { loadAgentConfig } from './config.ts';
import { Agent } from './loop.ts';
import { NodeTotal } from './node-total.ts';
import { ReadinessGate } from './readiness-gate.ts';

/** A check whose status the test sets. */
function scripted(name: string, status: { value: CheckStatus }): Check {
  return {
    name,
    gating: true,
    run: async () => ({ status: status.value, reason: `${name}-${status.value}`, message: status.value }),
  };
}

function setup(
  bootId: string,
  annotations: Record<string, string> = {},
  flags: Record<string, string> = {},
  others: readonly Node[] = [{ metadata: { name: 'n2' } }, { metadata: { name: 'n3' } }],
  extra: (
    clock: ManualClock,
    fake: FakeCluster,
  ) => Partial<ConstructorParameters<typeof Agent>[0]> = () => ({}),
) {
  const clock = new ManualClock(Date.parse('2026-05-01T00:00:00Z'));
  const fake = new FakeCluster(clock);
  fake.putNode({
    metadata: { name: 'n1', annotations },
    status: { nodeInfo: { bootID: bootId } as NonNullable<NonNullable<Node['status']>['nodeInfo']> },
  });
  for (const other of others) fake.putNode(other);
  const pods: Pod[] = [];
  const cluster = { services: [] as Service[], endpointSlices: [] as EndpointSlice[], pods: [] as Pod[] };
  let counts = 0;
  const nodeTotal = new NodeTotal({
    count: () => {
      counts++;
      return fake.count();
    },
    clock,
    log: pino({ level: 'silent' }),
  });
  const caches: AgentCaches = {
    node: () => fake.nodes.get('n1'),
    // what the agent's gated watch holds: the Nodes carrying the label
    gatedNodes: () => [...fake.nodes.values()].filter((n) => n.metadata?.labels?.[GATED_LABEL] !== undefined),
    cluster: () => cluster,
    pods: () => pods,
    generation: () => 0,
    synced: () => true,
  };
  const status = { value: 'Ok' as CheckStatus };
  const cfg = loadAgentConfig({ nodeName: 'n1', ...flags }, {});
  const agent = new Agent({
    cfg,
    nodes: fake,
    events: fake,
    caches,
    nodeTotal,
    checks: [scripted('kube-proxy-rules', status)],
    checkContext: {
      exec: async () => execResult(),
      httpGet: async () => ({ ok: false, error: 'unused', durationMs: 0 }),
      tcp: async () => ({ ok: false, error: 'unused', ms: 0 }),
      readDir: async () => [],
      nowMs: () => clock.now(),
    },
    clock,
    log: pino({ level: 'silent' }),
    registry: new Registry(),
    ...extra(clock, fake),
  });
  const node = () => fake.nodes.get('n1') as Node;
  const gateOf = () => ({
    condition: node().status?.conditions?.find((c) => c.type === CONDITION_TYPE)?.reason,
    tainted: (node().spec?.taints ?? []).some((t) => t.key === TAINT_KEY),
    bootAnnotation: node().metadata?.annotations?.[BOOT_ID_ANNOTATION],
    readyAt: node().metadata?.annotations?.[READY_AT_ANNOTATION],
  });
  return {
    agent,
    fake,
    status,
    clock,
    gateOf,
    pods,
    cluster,
    counts: () => counts,
    registry: (
      agent as unknown as {
        metrics: { bootHoldExpired: { get(): Promise<{ values: { value: number }[] }> } };
      }
    ).metrics,
  };
}

describe('Agent.round', () => {
  it('closes a new boot in the first round without running checks, then opens after two passes', async () => {
    const { agent, fake, gateOf, clock } = setup('boot-2', {
      [BOOT_ID_ANNOTATION]: 'boot-1',
      [READY_AT_ANNOTATION]: '2026-04-30T00:00:00Z',
    });
    await agent.round();
    expect(gateOf()).toEqual({
      condition: 'NewBootNotVerified',
      tainted: true,
      bootAnnotation: 'boot-2',
      readyAt: undefined,
    });
    // the taint went on before anything else
    expect(fake.writes[0]).toMatchObject({ kind: 'taint', want: 'present' });
    await agent.round();
    expect(gateOf().tainted).toBe(true);
    clock.advance(250);
    await agent.round();
    expect(gateOf()).toMatchObject({
      condition: 'DataPathVerified',
      tainted: false,
      readyAt: '2026-05-01T00:00:00.250Z',
    });
    expect(fake.events.map((e) => e.reason)).toEqual(['DataPathGateClosed', 'DataPathGateOpened']);
  });

  it('an unchanged steady round writes nothing', async () => {
    const { agent, fake } = setup('b', {});
    for (let i = 0; i < 3; i++) await agent.round();
    const before = fake.writes.length;
    for (let i = 0; i < 5; i++) await agent.round();
    expect(fake.writes.length).toBe(before);
  });

  it('reuses nftables listings only in steady rounds, while the generation read before them stands', async () => {
    let generation = 'generation 5\n';
    let listings = 0;
    const seen: boolean[] = [];
    const { agent, status } = setup('b', {}, { nftGenerationBin: '/opt/gen' }, undefined, () => ({
      checks: [
        {
          name: 'kube-proxy-rules',
          gating: true,
          run: async (ctx) => {
            seen.push(ctx.nftReads !== undefined);
            await reuseNftRead(ctx.nftReads, 'iptables-nft-save', 'capture', async () => {
              listings++;
              return readOk('rules', 'iptables-nft -S');
            });
            return { status: status.value, reason: 'r', message: 'm' };
          },
        },
      ],
      checkContext: {
        exec: async (cmd: string) => execResult({ stdout: cmd === '/opt/gen' ? generation : '' }),
        httpGet: async () => ({ ok: false, error: 'unused', durationMs: 0 }),
        tcp: async () => ({ ok: false, error: 'unused', ms: 0 }),
        readDir: async () => [],
        nowMs: () => Date.now(),
      },
    }));
    for (let i = 0; i < 3; i++) await agent.round(); // new boot, then two passes open the gate
    const whileGated = listings;
    expect(seen.slice(0, 2)).toEqual([false, false]);
    for (let i = 0; i < 3; i++) await agent.round();
    expect(seen.slice(-3)).toEqual([true, true, true]);
    expect(listings - whileGated).toBe(1); // listed once in generation 5, then reused
    const before = listings;
    generation = 'generation 6\n';
    await agent.round();
    expect(listings).toBe(before + 1);
    // a failing round closes nothing yet, but is not steady: the next rounds list every time
    status.value = 'Failing';
    await agent.round();
    const failing = listings;
    await agent.round();
    expect(listings).toBe(failing + 1);
    const counted = Object.fromEntries(
      (await agent.metrics.nftListings.get()).values.map((v) => [v.labels.outcome, v.value]),
    );
    expect(counted).toEqual({ reused: 3, listed: 2 });
  });

  it('keeps the taint while Unknown and closes after three failures', async () => {
    const { agent, status, gateOf } = setup('b', {});
    for (let i = 0; i < 3; i++) await agent.round();
    expect(gateOf().tainted).toBe(false);
    status.value = 'Unknown';
    for (let i = 0; i < 5; i++) await agent.round();
    expect(gateOf()).toMatchObject({ condition: 'kube-proxy-rules-Unknown', tainted: false });
    status.value = 'Failing';
    await agent.round();
    await agent.round();
    expect(gateOf().tainted).toBe(false);
    await agent.round();
    expect(gateOf()).toMatchObject({ condition: 'kube-proxy-rules-Failing', tainted: true });
  });

  it('a boot that never verifies is released at --max-boot-hold with a Warning Event and a metric, and stays open', async () => {
    const { agent, fake, status, clock, gateOf } = setup(
      'boot-2',
      { [BOOT_ID_ANNOTATION]: 'boot-1' },
      { maxBootHold: '10m' },
    );
    status.value = 'Failing';
    await agent.round();
    expect(gateOf()).toMatchObject({ condition: 'NewBootNotVerified', tainted: true });
    clock.advance(9 * 60_000);
    await agent.round();
    expect(gateOf()).toMatchObject({ condition: 'kube-proxy-rules-Failing', tainted: true });
    clock.advance(60_000);
    await agent.round();
    expect(gateOf()).toMatchObject({ condition: 'BootHoldExpired', tainted: false, readyAt: undefined });
    expect(fake.events.map((e) => [e.type, e.reason])).toContainEqual(['Warning', 'DataPathBootHoldExpired']);
    expect((await agent.metrics.bootHoldExpired.get()).values[0]?.value).toBe(1);
    // still failing, but this boot was never verified: the hold is not renewed
    for (let i = 0; i < 5; i++) await agent.round();
    expect(gateOf()).toMatchObject({ condition: 'BootHoldExpired', tainted: false });
  });

  it('puts the gated label on with the taint and takes it off with it, in the same writes', async () => {
    const { agent, fake, clock } = setup('boot-2', { [BOOT_ID_ANNOTATION]: 'boot-1' });
    const label = () => fake.nodes.get('n1')?.metadata?.labels?.[GATED_LABEL];
    await agent.round();
    expect(label()).toBe('true');
    expect(fake.writes[0]).toMatchObject({ kind: 'taint', want: 'present', label: GATED_LABEL });
    await agent.round();
    clock.advance(250);
    await agent.round();
    expect(label()).toBeUndefined();
    expect(fake.writes.filter((w) => w.kind === 'taint')).toHaveLength(2);
  });

  it('labels a node tainted without the label (an older version placed the taint), touching no taint', async () => {
    const { agent, fake, status } = setup('b', { [BOOT_ID_ANNOTATION]: 'b' });
    fake.putNode({
      ...(fake.nodes.get('n1') as Node),
      spec: { taints: [{ key: TAINT_KEY, effect: TAINT_EFFECT }] },
    });
    status.value = 'Unknown'; // the gate keeps the taint as it is
    await agent.round();
    const n1 = fake.nodes.get('n1');
    expect(n1?.metadata?.labels?.[GATED_LABEL]).toBe('true');
    expect(n1?.spec?.taints?.map((t) => t.key)).toEqual([TAINT_KEY]);
    expect(fake.writes.filter((w) => w.kind === 'taint')).toEqual([
      { kind: 'taint', node: 'n1', key: TAINT_KEY, want: 'keep', label: GATED_LABEL },
    ]);
  });

  it('the breaker counts the labelled nodes against the total, and counts only when it matters', async () => {
    // 10 nodes, 3 others gated for a non-boot reason: with 0.334, a fourth may not be tainted.
    const gatedOther = (name: string): Node => ({
      metadata: {
        name,
        labels: { [GATED_LABEL]: 'true' },
        annotations: { [BOOT_ID_ANNOTATION]: 'x', [READY_AT_ANNOTATION]: '2026-04-30T00:00:00Z' },
      },
      spec: { taints: [{ key: TAINT_KEY, effect: TAINT_EFFECT }] },
      status: { nodeInfo: { bootID: 'x' } as NonNullable<NonNullable<Node['status']>['nodeInfo']> },
    });
    const others: Node[] = [
      ...['n2', 'n3', 'n4'].map(gatedOther),
      ...['n5', 'n6', 'n7', 'n8', 'n9', 'n10'].map((name) => ({ metadata: { name } })),
    ];
    const { agent, status, gateOf, counts, fake, clock } = setup('b', {}, {}, others);
    for (let i = 0; i < 3; i++) await agent.round();
    expect(gateOf()).toMatchObject({ condition: 'DataPathVerified', tainted: false });
    expect(counts()).toBe(1); // while closed: counted once, then reused
    clock.advance(11 * 60_000); // the count is now stale…
    for (let i = 0; i < 5; i++) await agent.round();
    expect(counts()).toBe(1); // …but healthy and open: no count request
    status.value = 'Failing';
    for (let i = 0; i < 3; i++) await agent.round();
    expect(gateOf()).toMatchObject({ condition: 'BreakerOpen', tainted: false });
    expect(counts()).toBe(2); // failing: refreshed once, then reused
    const message = fake.nodes.get('n1')?.status?.conditions?.find((c) => c.type === CONDITION_TYPE)?.message;
    expect(message).toContain('4 of 10 nodes would be gated');
  });

  it('without the other gated nodes the same failure taints', async () => {
    const { agent, status, gateOf, fake } = setup('b', {}, {}, [
      ...['n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8', 'n9', 'n10'].map((name) => ({ metadata: { name } })),
    ]);
    for (let i = 0; i < 3; i++) await agent.round();
    status.value = 'Failing';
    for (let i = 0; i < 3; i++) await agent.round();
    expect(gateOf()).toMatchObject({ condition: 'kube-proxy-rules-Failing', tainted: true });
    expect(fake.nodes.get('n1')?.metadata?.labels?.[GATED_LABEL]).toBe('true');
  });

  it('dry-run decides but writes nothing', async () => {
    const { agent, fake } = setup('b2', { [BOOT_ID_ANNOTATION]: 'b1' }, { dryRun: 'true' });
    for (let i = 0; i < 4; i++) await agent.round();
    expect(fake.writes).toEqual([]);
    expect((agent.status() as { gate: { closed: boolean } }).gate.closed).toBe(false);
  });
});

describe('WatchCaches', () => {
  const svc = (name: string) => ({
    metadata: { name, namespace: 'default' },
    spec: { clusterIP: '10.96.1.1', ports: [{ port: 80 }] },
  });
  const slice = (svcName: string) => ({
    metadata: {
      name: `${svcName}-1`,
      namespace: 'default',
      labels: { 'kubernetes.io/service-name': svcName },
    },
    endpoints: [],
  });

  /** Caches whose initial lists held the Service `old`, on a clock the test moves (`clock.now`). */
  async function cachesWithOld(start: number) {
    const { WatchCaches } = await import('./caches.ts');
    const clock = { now: start };
    const c = new WatchCaches('n1', { settleMs: 10_000, now: () => clock.now });
    const services = c.handlers('services');
    const slices = c.handlers('slices');
    services.onEvent({ type: 'ADDED', object: svc('old') });
    services.onSynced();
    slices.onSynced();
    return { c, services, slices, clock };
  }

  it('leaves recently changed Services out of the expected state until they settle, and moves the generation', async () => {
    const { c, services, slices, clock } = await cachesWithOld(1_000_000);
    expect(c.cluster().services.map((s) => s.metadata?.name)).toEqual(['old']); // initial list counts as settled
    const g0 = c.generation();
    services.onEvent({ type: 'ADDED', object: svc('new') });
    slices.onEvent({ type: 'MODIFIED', object: slice('old') });
    expect(c.generation()).toBeGreaterThan(g0);
    expect(c.cluster().services).toEqual([]); // both changed just now
    const g1 = c.generation();
    clock.now += 10_001;
    expect(c.generation()).toBeGreaterThan(g1); // settling alone moves it
    expect(
      c
        .cluster()
        .services.map((s) => s.metadata?.name)
        .sort(),
    ).toEqual(['new', 'old']);
  });

  it('moves the generation only when the expected state can change: not for a new Service until it settles', async () => {
    const { c, services, slices, clock } = await cachesWithOld(2_000_000);
    const g0 = c.generation();
    // A new Service and its slice: left out of the expected state before and after, so no move.
    services.onEvent({ type: 'ADDED', object: svc('new') });
    slices.onEvent({ type: 'ADDED', object: slice('new') });
    clock.now += 5_000;
    slices.onEvent({ type: 'MODIFIED', object: slice('new') }); // still settling: no move either
    expect(c.generation()).toBe(g0);
    expect(c.cluster().services.map((s) => s.metadata?.name)).toEqual(['old']);
    clock.now += 10_001;
    const g1 = c.generation();
    expect(g1).toBeGreaterThan(g0); // it settled: it joins the expected state
    expect(
      c
        .cluster()
        .services.map((s) => s.metadata?.name)
        .sort(),
    ).toEqual(['new', 'old']);
    // A settled Service deleted: it leaves the expected state (a move); its settling moves nothing.
    services.onEvent({ type: 'DELETED', object: svc('old') });
    const g2 = c.generation();
    expect(g2).toBeGreaterThan(g1);
    slices.onEvent({ type: 'DELETED', object: slice('old') });
    clock.now += 10_001;
    expect(c.generation()).toBe(g2);
    expect(c.cluster().services.map((s) => s.metadata?.name)).toEqual(['new']);
    // A slice alone (no Service object) joins the view when it settles, not the generation.
    slices.onEvent({ type: 'ADDED', object: slice('orphan') });
    expect(c.cluster().endpointSlices.map((s) => s.metadata?.name)).toEqual(['new-1']);
    clock.now += 10_001;
    expect(c.generation()).toBe(g2);
    expect(
      c
        .cluster()
        .endpointSlices.map((s) => s.metadata?.name)
        .sort(),
    ).toEqual(['new-1', 'orphan-1']);
  });

  it("behind a Reflector, is its only map: a relist's DELETED comes from the cache's own entries", async () => {
    const { WatchCaches } = await import('./caches.ts');
    const { Reflector } = await import('../kube/watch.ts');
    const c = new WatchCaches('n1', { expect: 1, settleMs: 0, now: () => 5_000_000 });
    const lists = [[svc('a'), svc('b')], [svc('a')]];
    let watches = 0;
    const transport = {
      list: async (keep: (s: Service) => Service) => ({
        items: (lists.shift() ?? []).map(keep),
        resourceVersion: '1',
      }),
      // The first watch ends with 410 Gone (relist), the second stays open until stopped.
      watch: async (_rv: string, _on: unknown, onDone: (err: unknown) => void) => {
        if (watches++ === 0) queueMicrotask(() => onDone({ statusCode: 410 }));
        return { abort: () => onDone(null) };
      },
    };
    const handlers = c.handlers<Service>('services');
    const r = new Reflector(transport, handlers, {
      minBackoffMs: 0,
      maxBackoffMs: 0,
      firstListRetryMs: 0,
      sleep: () => new Promise<void>((res) => setImmediate(res)),
    });
    await r.start();
    for (let i = 0; i < 100 && watches < 2; i++) await new Promise((res) => setImmediate(res));
    await r.stop();
    expect(c.cluster().services.map((s) => s.metadata?.name)).toEqual(['a']);
    expect([...(handlers.store?.keys() ?? [])]).toEqual(['default/a']);
    expect(r.snapshot()[0]).toBe(c.cluster().services[0]);
  });

  it('answers cluster() from one view until a watch event, and drops managedFields', async () => {
    const { WatchCaches } = await import('./caches.ts');
    const c = new WatchCaches('n1', { settleMs: 10_000, now: () => 5_000_000 });
    const pods = c.handlers('pods');
    const withFields = {
      ...svc('a'),
      metadata: { ...svc('a').metadata, managedFields: [{ manager: 'kubectl' }] },
    };
    const services = c.handlers('services');
    services.onEvent({ type: 'ADDED', object: services.keep(withFields) });
    const first = c.cluster();
    expect(c.cluster()).toBe(first);
    expect(first.services[0]?.metadata).not.toHaveProperty('managedFields');
    pods.onEvent({ type: 'ADDED', object: { metadata: { name: 'p', namespace: 'default' } } });
    const second = c.cluster();
    expect(second).not.toBe(first);
    expect(second.pods).toHaveLength(1);
  });
});

describe('Agent metrics of the boot', () => {
  it('names the current boot and counts pods crash-looping since it was first seen', async () => {
    const { agent, fake, clock, pods } = setup('boot-1');
    await agent.round();
    const bootIds = async () => (await agent.metrics.bootInfo.get()).values.map((v) => v.labels.boot_id);
    expect(await bootIds()).toEqual(['boot-1']);
    const looping = (finishedAt: string): Pod =>
      ({
        status: {
          containerStatuses: [
            {
              name: 'c',
              image: 'x',
              imageID: '',
              ready: false,
              restartCount: 4,
              state: { waiting: { reason: 'CrashLoopBackOff' } },
              lastState: { terminated: { exitCode: 1, finishedAt: finishedAt as unknown as Date } },
            },
          ],
        },
      }) as Pod;
    pods.push(looping('2026-04-30T23:00:00Z')); // crashed before this boot was seen: not counted
    await agent.round();
    expect((await agent.metrics.podsCrashLoopingSinceBoot.get()).values[0]?.value).toBe(0);

    clock.advance(60_000);
    fake.putNode({
      ...(fake.nodes.get('n1') as Node),
      status: { nodeInfo: { bootID: 'boot-2' } as NonNullable<NonNullable<Node['status']>['nodeInfo']> },
    });
    await agent.round();
    expect(await bootIds()).toEqual(['boot-2']);
    clock.advance(5_000);
    pods.push(looping(new Date(clock.now()).toISOString()));
    await agent.round();
    expect((await agent.metrics.podsCrashLoopingSinceBoot.get()).values[0]?.value).toBe(1);
  });
});

describe('Agent.pokeReadiness (the pod readiness gate between rounds)', () => {
  it('probes a changed gated pod within a second without a round, then backs off while its probe fails', async () => {
    vi.useFakeTimers();
    try {
      const probes: number[] = [];
      let outcome: ProbeOutcome = { status: 'failing', checks: [], detail: 'connect refused' };
      const { agent, pods, clock, fake, cluster } = setup(
        'boot-1',
        { [BOOT_ID_ANNOTATION]: 'boot-1' },
        {},
        undefined,
        (c, f) => ({
          readinessGate: new ReadinessGate({
            pods: f,
            locator: {
              locate: async (uids) =>
                new Map(
                  uids.map((u) => [u, { path: `/x/${u}`, netnsId: 'net:[1]', via: 'test' } as NetnsLocation]),
                ),
            },
            probe: async () => {
              probes.push(c.now());
              return outcome;
            },
            clock: c,
            log: pino({ level: 'silent' }),
            dryRun: false,
          }),
        }),
      );
      const pod: Pod = {
        metadata: { namespace: 'app', name: 'web', uid: 'web' },
        spec: { nodeName: 'n1', containers: [], readinessGates: [{ conditionType: POD_NETWORK_READY }] },
        status: { phase: 'Running', podIP: '10.244.1.9', conditions: [] },
      };
      fake.pods.set('app/web', structuredClone(pod));
      // the probe's targets: the kubernetes and cluster DNS Services
      cluster.services.push(
        service('default', 'kubernetes', '10.96.0.1', [{ name: 'https', port: 443 }]),
        service('kube-system', 'kube-dns', '10.96.0.10', [{ name: 'dns', port: 53, protocol: 'UDP' }]),
      );
      pods.push(pod);
      const step = async (ms: number) => {
        clock.advance(ms);
        await vi.advanceTimersByTimeAsync(ms);
      };
      agent.pokeReadiness();
      agent.pokeReadiness(); // coalesced
      await step(999);
      expect(probes).toHaveLength(0);
      await step(1);
      expect(probes).toHaveLength(1);
      // failing and nothing changes: probed again, ever more rarely (not every 2 s: 30 times a minute)
      for (let i = 0; i < 60; i++) await step(1_000);
      expect(probes.length).toBeGreaterThanOrEqual(3);
      expect(probes.length).toBeLessThanOrEqual(7);
      const gaps = probes.slice(1).map((t, i) => t - (probes[i] ?? 0));
      expect(gaps.at(-1) ?? 0).toBeGreaterThanOrEqual(8_000);
      // a pod change starts over at 1 s: the probe passes, the condition is written...
      outcome = { status: 'ok', checks: [], detail: '2 check(s) ok' };
      const before = probes.length;
      agent.pokeReadiness();
      await step(1_000);
      expect(probes).toHaveLength(before + 1);
      const web = fake.pods.get('app/web') as Pod;
      expect(web.status?.conditions?.find((x) => x.type === POD_NETWORK_READY)?.status).toBe('True');
      // ...and once the watch brings it, nothing waits any more: no further probes
      pods[0] = web;
      agent.pokeReadiness();
      for (let i = 0; i < 60; i++) await step(1_000);
      expect(probes).toHaveLength(before + 1);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('Agent.pokeWhenSettled (a round once a Service change has settled)', () => {
  /** An agent run under fake timers whose one check records when each round ran it. */
  async function running(checkMs = 0) {
    const rounds: number[] = [];
    const counting: Check = {
      name: 'kube-proxy-rules',
      gating: true,
      run: async () => {
        rounds.push(Date.now());
        if (checkMs > 0) await new Promise((r) => setTimeout(r, checkMs));
        return { status: 'Ok', reason: 'ok', message: 'ok' };
      },
    };
    const { agent, clock } = setup('boot-1', { [BOOT_ID_ANNOTATION]: 'boot-1' }, {}, undefined, () => ({
      checks: [counting],
    }));
    const step = async (ms: number) => {
      clock.advance(ms);
      await vi.advanceTimersByTimeAsync(ms);
    };
    const done = agent.run();
    // the gate opens; then rounds every --steady-interval (30 s)
    for (
      let i = 0;
      i < 120 && !(rounds.length >= 3 && (rounds.at(-1) ?? 0) - (rounds.at(-2) ?? 0) >= 30_000);
      i++
    )
      await step(500);
    expect((rounds.at(-1) ?? 0) - (rounds.at(-2) ?? 0)).toBeGreaterThanOrEqual(30_000);
    // stopped during a round, run() ends with that round (no pause after it)
    const stop = async () => {
      agent.stop();
      await step(checkMs + 1_000);
      await done;
    };
    return { agent, rounds, step, stop };
  }

  it('checks the last change of a burst once it has settled, not only at the next steady round', async () => {
    vi.useFakeTimers();
    try {
      const { agent, rounds, step, stop } = await running();
      const start = rounds.length;
      agent.pokeWhenSettled(); // a change: its round in --sync-grace + --check-interval (10.25 s)
      await step(5_000);
      agent.pokeWhenSettled(); // another change 5 s later, while that wake-up is pending
      await step(5_250);
      expect(rounds.length).toBe(start + 1); // the first change's round
      await step(4_000);
      expect(rounds.length).toBe(start + 1);
      await step(1_000);
      // the second change's round, 10.25 s after it: before, it waited for the steady round (30 s)
      expect(rounds.length).toBe(start + 2);
      await step(10_000);
      expect(rounds.length).toBe(start + 2); // nothing more asked for
      await stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('runs the round a wake-up asked for during a round right after it, not at the next steady round', async () => {
    vi.useFakeTimers();
    try {
      // rounds take 8 s (under --check-timeout), then the steady pause of 30 s
      const { agent, rounds, step, stop } = await running(8_000);
      const r = rounds.at(-1) ?? 0;
      await step(r + 30_000 - Date.now());
      agent.pokeWhenSettled(); // its wake-up at r + 40.25 s, during the round that starts at r + 38 s
      const start = rounds.length;
      for (let i = 0; i < 60 && rounds.length < start + 2; i++) await step(1_000);
      expect(rounds[start]).toBe(r + 38_000); // the steady round
      // the next starts as that one ends (r + 46 s), not after another steady pause (r + 84 s)
      expect((rounds[start + 1] ?? 0) - r).toBeLessThanOrEqual(47_000);
      await stop();
    } finally {
      vi.useRealTimers();
    }
  });
});
