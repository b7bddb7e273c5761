import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { vpcCniVethName } from '../netfilter/chain-names.ts';
import { parseIpRoutes, parseIpRules } from '../netfilter/ip.ts';
import { checkRoutedPodConsistency, diffPodNetworks, expectedPodNetworks } from '../netfilter/pods.ts';
import type { Node, Pod } from './objects.ts';
import type { ProbeOutcome } from './probe.ts';
import {
  judgeProbes,
  podProblemsFromFindings,
  type RecycleDecision,
  type RecyclePolicyInput,
  recycleNodeFromNode,
  selectRecycleCandidates,
} from './recycle-policy.ts';

const NODE = 'node-a';
const T = (hms: string): number => Date.parse(`2026-03-01T${hms}Z`);
const READY_AT = T('12:00:41');
const node = { name: NODE, bootId: 'boot-2', datapathReadyAtMs: READY_AT };

interface PodSpec {
  name?: string;
  ns?: string;
  uid?: string;
  /** PodReadyToStartContainers True since (HH:MM:SS); null = condition False. */
  net?: string | null;
  netType?: string;
  /** ContainersReady/Ready status and since when. */
  ready?: boolean;
  readySince?: string;
  /** Only the Ready condition (no ContainersReady), e.g. for readiness-gate cases. */
  containersReady?: boolean;
  phase?: string;
  crashLoop?: { restarts: number; exit?: number; init?: boolean };
  owner?: string | null;
  annotations?: Record<string, string>;
  hostNetwork?: boolean;
  deleting?: boolean;
  nodeName?: string;
  created?: string;
  /** Use Date objects (typed API) instead of strings (watch). */
  dates?: boolean;
}

type Ts = (hms: string) => string | Date;

function conditionsOf(s: PodSpec, ts: Ts) {
  const ready = s.ready ?? true;
  const since = ts(s.readySince ?? '12:00:20');
  return [
    {
      type: s.netType ?? 'PodReadyToStartContainers',
      status: s.net === null ? 'False' : 'True',
      lastTransitionTime: ts(s.net ?? '12:00:03'),
    },
    { type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: since },
    {
      type: 'ContainersReady',
      status: (s.containersReady ?? ready) ? 'True' : 'False',
      lastTransitionTime: since,
    },
  ];
}

function containerStatusesOf(s: PodSpec) {
  const cs = {
    name: 'app',
    image: 'app:1',
    imageID: '',
    ready: s.ready ?? true,
    restartCount: s.crashLoop?.restarts ?? 0,
    state: s.crashLoop ? { waiting: { reason: 'CrashLoopBackOff' } } : { running: {} },
    ...(s.crashLoop?.exit !== undefined ? { lastState: { terminated: { exitCode: s.crashLoop.exit } } } : {}),
  };
  return s.crashLoop?.init
    ? { initContainerStatuses: [{ ...cs, name: 'init-db' }], containerStatuses: [] }
    : { containerStatuses: [cs] };
}

function mkPod(s: PodSpec = {}): Pod {
  const name = s.name ?? 'web-1';
  const ts: Ts = (hms) => (s.dates ? new Date(T(hms)) : `2026-03-01T${hms}Z`);
  const owner = s.owner === undefined ? 'ReplicaSet' : s.owner;
  const ownerRefs = owner
    ? [{ apiVersion: 'apps/v1', kind: owner, name: 'web', uid: `uid-${owner}`, controller: true }]
    : undefined;
  return {
    metadata: {
      namespace: s.ns ?? 'app',
      name,
      uid: s.uid ?? `uid-${name}`,
      creationTimestamp: ts(s.created ?? '09:00:00'),
      ...(s.annotations ? { annotations: s.annotations } : {}),
      ...(ownerRefs ? { ownerReferences: ownerRefs } : {}),
      ...(s.deleting ? { deletionTimestamp: ts('12:05:00') } : {}),
    },
    spec: {
      nodeName: s.nodeName ?? NODE,
      containers: [{ name: 'app' }],
      ...(s.hostNetwork ? { hostNetwork: true } : {}),
    },
    status: {
      phase: s.phase ?? 'Running',
      podIP: '10.0.80.10',
      conditions: conditionsOf(s, ts),
      ...containerStatusesOf(s),
    },
  } as unknown as Pod;
}

function decide1(pod: Pod, extra: Partial<RecyclePolicyInput> = {}): RecycleDecision {
  const [d] = selectRecycleCandidates({ node, pods: [pod], now: T('12:06:00'), ...extra });
  if (!d) throw new Error('no decision');
  return d;
}

const probe = (status: ProbeOutcome['status'], checks: [string, boolean, boolean?][]): ProbeOutcome => ({
  status,
  detail: status,
  checks: checks.map(([key, ok, core]) => ({
    key,
    ok,
    core: core ?? true,
    detail: `${key} ${ok ? 'ok' : 'TIMEOUT'}`,
  })),
});
const nodeOk = probe('ok', [
  ['dns:kubernetes.default.svc.cluster.local', true],
  ['tcp:10.96.0.1:443', true],
  ['tcp:10.0.0.5:5672', true, false],
]);
const findingFor = (key: string) =>
  new Map([[key, ['pod-rule-missing: missing 512: from all to 10.0.80.10 lookup main']]]);
const CLBO = { restarts: 5, exit: 1 };

describe('selectRecycleCandidates: one pod at a time', () => {
  const cases: {
    name: string;
    pod: PodSpec;
    extra?: Partial<RecyclePolicyInput>;
    want: [RecycleDecision['action'], RecycleDecision['reason']];
  }[] = [
    // (1) early ∧ (2) broken ∧ (3) ours
    {
      name: 'early + CrashLoopBackOff + ReplicaSet',
      pod: { crashLoop: CLBO },
      want: ['recycle', 'NetworkBeforeDataPathReady'],
    },
    {
      name: 'same with Date timestamps (typed API objects)',
      pod: { crashLoop: CLBO, dates: true },
      want: ['recycle', 'NetworkBeforeDataPathReady'],
    },
    {
      name: 'early + init container CrashLoopBackOff',
      pod: { crashLoop: { restarts: 3, init: true }, phase: 'Pending' },
      want: ['recycle', 'NetworkBeforeDataPathReady'],
    },
    {
      name: 'early via the 1.25-1.27 PodHasNetwork condition',
      pod: { crashLoop: CLBO, netType: 'PodHasNetwork' },
      want: ['recycle', 'NetworkBeforeDataPathReady'],
    },
    {
      name: 'early + StatefulSet',
      pod: { crashLoop: CLBO, owner: 'StatefulSet' },
      want: ['recycle', 'NetworkBeforeDataPathReady'],
    },
    {
      name: 'early + DaemonSet',
      pod: { crashLoop: CLBO, owner: 'DaemonSet' },
      want: ['recycle', 'NetworkBeforeDataPathReady'],
    },
    {
      name: 'early + Job',
      pod: { crashLoop: CLBO, owner: 'Job' },
      want: ['recycle', 'NetworkBeforeDataPathReady'],
    },
    {
      name: 'early + not ready 5 min after data path ready',
      pod: { ready: false, readySince: '12:00:10' },
      want: ['recycle', 'NetworkBeforeDataPathReady'],
    },
    {
      name: 'early + own-netns probe fails on a target the node reaches',
      pod: {},
      extra: {
        nodeProbe: nodeOk,
        podProbes: new Map([['uid-web-1', probe('failing', [['tcp:10.96.0.1:443', false]])]]),
      },
      want: ['recycle', 'NetworkBeforeDataPathReady'],
    },
    // healthy early-started pods are never candidates (hard acceptance criterion)
    { name: 'early but healthy', pod: {}, want: ['skip', 'Healthy'] },
    {
      name: 'early, healthy, probe ok',
      pod: {},
      extra: { nodeProbe: nodeOk, podProbes: new Map([['uid-web-1', nodeOk]]) },
      want: ['skip', 'Healthy'],
    },
    {
      name: 'early, not ready for 10 min but only 40 s since data path ready (grace counts from ready)',
      pod: { ready: false, readySince: '11:56:00' },
      extra: { now: READY_AT + 40_000 },
      want: ['skip', 'NotReadyWithinGrace'],
    },
    {
      name: 'early, only a readiness gate keeps Ready False',
      pod: { ready: false, containersReady: true, readySince: '12:00:10' },
      want: ['skip', 'Healthy'],
    },
    {
      name: 'early, Pending and not ready (image pull, not a network symptom)',
      pod: { ready: false, readySince: '12:00:10', phase: 'Pending' },
      want: ['skip', 'Healthy'],
    },
    {
      name: 'early, extra target fails from the node too (dependency down, not the pod)',
      pod: {},
      extra: {
        nodeProbe: probe('failing', [
          ['tcp:10.96.0.1:443', true],
          ['tcp:10.0.0.5:5672', false, false],
        ]),
        podProbes: new Map([['uid-web-1', probe('failing', [['tcp:10.0.0.5:5672', false, false]])]]),
      },
      want: ['skip', 'Healthy'],
    },
    {
      name: 'early, pod probe fails but the node was not probed (cannot attribute)',
      pod: {},
      extra: { podProbes: new Map([['uid-web-1', probe('failing', [['tcp:10.96.0.1:443', false]])]]) },
      want: ['skip', 'Healthy'],
    },
    // network set up after the data path was ready: the pod's own business
    {
      name: 'late + CrashLoopBackOff (an application bug)',
      pod: { net: '12:01:00', crashLoop: CLBO },
      want: ['skip', 'NetworkAfterDataPathReady'],
    },
    // per-pod kernel state wrong now
    {
      name: 'late + finding + CrashLoopBackOff',
      pod: { net: '12:01:00', crashLoop: CLBO },
      extra: { podNetworkProblems: findingFor('app/web-1') },
      want: ['recycle', 'PodNetworkStateMissing'],
    },
    {
      name: 'late + finding but healthy',
      pod: { net: '12:01:00' },
      extra: { podNetworkProblems: findingFor('app/web-1') },
      want: ['skip', 'Healthy'],
    },
    // broken but not ours: reported
    { name: 'bare pod', pod: { crashLoop: CLBO, owner: null }, want: ['report', 'Unowned'] },
    {
      name: 'bare pod with recycle: always',
      pod: { crashLoop: CLBO, owner: null, annotations: { 'netwarden.dev/recycle': 'always' } },
      want: ['recycle', 'NetworkBeforeDataPathReady'],
    },
    {
      name: 'opted out',
      pod: { crashLoop: CLBO, annotations: { 'netwarden.dev/recycle': 'never' } },
      want: ['report', 'OptedOut'],
    },
    {
      name: 'unknown recycle value is neither opt-in nor opt-out',
      pod: { crashLoop: CLBO, owner: null, annotations: { 'netwarden.dev/recycle': 'yes' } },
      want: ['report', 'Unowned'],
    },
    {
      name: 'static (mirror) pod',
      pod: { crashLoop: CLBO, owner: 'Node', annotations: { 'kubernetes.io/config.mirror': 'abc' } },
      want: ['report', 'StaticPod'],
    },
    {
      name: 'mirror pod even with recycle: always',
      pod: {
        crashLoop: CLBO,
        annotations: { 'kubernetes.io/config.mirror': 'abc', 'netwarden.dev/recycle': 'always' },
      },
      want: ['report', 'StaticPod'],
    },
    {
      name: 'controller of an unknown kind',
      pod: { crashLoop: CLBO, owner: 'Cluster' },
      want: ['report', 'UnsupportedOwner'],
    },
    {
      name: 'controller of an unknown kind with recycle: always',
      pod: { crashLoop: CLBO, owner: 'Cluster', annotations: { 'netwarden.dev/recycle': 'always' } },
      want: ['recycle', 'NetworkBeforeDataPathReady'],
    },
    // out of scope
    { name: 'host network', pod: { crashLoop: CLBO, hostNetwork: true }, want: ['skip', 'HostNetwork'] },
    { name: 'terminating', pod: { crashLoop: CLBO, deleting: true }, want: ['skip', 'Terminating'] },
    { name: 'finished', pod: { phase: 'Failed' }, want: ['skip', 'Finished'] },
    { name: 'other node', pod: { crashLoop: CLBO, nodeName: 'node-b' }, want: ['skip', 'NotOnThisNode'] },
    { name: 'no sandbox yet', pod: { net: null, crashLoop: CLBO }, want: ['skip', 'NoPodNetwork'] },
    {
      name: 'network status older than the boot (kubelet has not rebuilt it yet)',
      pod: { net: '11:50:00', crashLoop: CLBO },
      extra: { node: { ...node, bootTimeMs: T('11:59:00') } },
      want: ['skip', 'StatusFromPreviousBoot'],
    },
    {
      name: 'data path not verified on this boot',
      pod: { crashLoop: CLBO },
      extra: { node: { name: NODE, bootId: 'boot-2' }, podNetworkProblems: findingFor('app/web-1') },
      want: ['skip', 'DataPathNotVerified'],
    },
    {
      name: 'not verified, findings, recycleBeforeVerified on',
      pod: { crashLoop: CLBO },
      extra: {
        node: { name: NODE, bootId: 'boot-2' },
        podNetworkProblems: findingFor('app/web-1'),
        options: { recycleBeforeVerified: true },
      },
      want: ['recycle', 'PodNetworkStateMissing'],
    },
    {
      name: 'node-level probe fails: node broken, recycle nothing',
      pod: { crashLoop: CLBO },
      extra: { nodeProbe: probe('failing', [['tcp:10.96.0.1:443', false]]) },
      want: ['skip', 'NodeDataPathBroken'],
    },
  ];

  it.each(cases)('$name → $want', ({ pod, extra, want }) => {
    const d = decide1(mkPod(pod), extra);
    expect([d.action, d.reason]).toEqual(want);
  });
});

describe('selectRecycleCandidates: evidence', () => {
  it('explains a recycle with both times and the container state', () => {
    const d = decide1(mkPod({ crashLoop: CLBO }));
    expect(d.explanation).toBe(
      'network set up 12:00:03Z, 38s before data path ready 12:00:41Z; container app CrashLoopBackOff (5 restarts, last exit 1)',
    );
    expect(d.owner).toEqual({
      kind: 'ReplicaSet',
      name: 'web',
      uid: 'uid-ReplicaSet',
      key: 'ReplicaSet/app/web:uid-ReplicaSet',
    });
    expect(d.networkSetupMs).toBe(T('12:00:03'));
    expect(d.podCreatedMs).toBe(T('09:00:00'));
  });

  it('says why a broken pod is only reported, with the evidence', () => {
    const d = decide1(mkPod({ crashLoop: CLBO, owner: null }));
    expect(d.explanation).toMatch(
      /^not recycled: no controller recreates it .*; network set up 12:00:03Z.*CrashLoopBackOff/,
    );
  });

  it('names the finding and the not-ready duration', () => {
    const d = decide1(mkPod({ net: '12:01:00', ready: false, readySince: '12:01:30' }), {
      podNetworkProblems: findingFor('app/web-1'),
    });
    expect(d.evidence).toEqual([
      'pod-rule-missing: missing 512: from all to 10.0.80.10 lookup main',
      'containers not ready for 4m30s',
    ]);
  });

  it('names the probe target and what the node saw', () => {
    const d = decide1(mkPod(), {
      nodeProbe: nodeOk,
      podProbes: new Map([['uid-web-1', probe('failing', [['tcp:10.96.0.1:443', false]])]]),
    });
    expect(d.evidence[1]).toBe(
      'own-netns probe failed: tcp:10.96.0.1:443 TIMEOUT (node reaches it: tcp:10.96.0.1:443 ok)',
    );
  });

  it('bare pods recycled on request are counted against themselves by name', () => {
    const d = decide1(
      mkPod({ crashLoop: CLBO, owner: null, annotations: { 'netwarden.dev/recycle': 'always' } }),
    );
    expect(d.owner?.key).toBe('Pod/app/web-1');
  });
});

describe('selectRecycleCandidates: a rebooted node', () => {
  it('decides every pod, recycles first (oldest network first), then reports, then skips', () => {
    const pods = [
      mkPod({ name: 'healthy-early' }),
      mkPod({ name: 'b-broken', net: '12:00:09', crashLoop: CLBO }),
      mkPod({ name: 'a-broken', net: '12:00:30', crashLoop: CLBO }),
      mkPod({ name: 'bare', crashLoop: CLBO, owner: null }),
      mkPod({ name: 'c-broken', net: '12:00:02', ready: false, readySince: '12:00:05' }),
      mkPod({ name: 'late-app-bug', net: '12:02:00', crashLoop: CLBO }),
    ];
    const ds = selectRecycleCandidates({ node, pods, now: T('12:06:00') });
    expect(ds.map((d) => `${d.action} ${d.pod.name}`)).toEqual([
      'recycle c-broken',
      'recycle b-broken',
      'recycle a-broken',
      'report bare',
      'skip healthy-early',
      'skip late-app-bug',
    ]);
  });

  it('recycles no pod while the node-level probe fails', () => {
    const pods = [mkPod({ name: 'x', crashLoop: CLBO }), mkPod({ name: 'y', crashLoop: CLBO })];
    const ds = selectRecycleCandidates({
      node,
      pods,
      now: T('12:06:00'),
      nodeProbe: probe('failing', [['dns:kubernetes.default.svc.cluster.local', false]]),
    });
    expect(ds.every((d) => d.action === 'skip' && d.reason === 'NodeDataPathBroken')).toBe(true);
  });

  it('property: a healthy pod (Ready, no CrashLoopBackOff, probe ok or absent) is never recycled', () => {
    const time = fc
      .integer({ min: 0, max: 3599 })
      .map((s) => `12:${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`);
    fc.assert(
      fc.property(
        fc.record({
          net: fc.option(time, { nil: null }),
          readySince: time,
          owner: fc.constantFrom('ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'Cluster', null),
          annotations: fc.constantFrom(
            {},
            { 'netwarden.dev/recycle': 'always' },
            { 'netwarden.dev/recycle': 'never' },
          ),
          phase: fc.constantFrom('Running', 'Pending'),
          dates: fc.boolean(),
        }),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 0, max: 3 * 3_600_000 }),
        (spec, finding, withProbe, nowOffset) => {
          const pod = mkPod({ ...spec, ready: true });
          const d = decide1(pod, {
            now: READY_AT + nowOffset,
            ...(finding ? { podNetworkProblems: findingFor('app/web-1') } : {}),
            ...(withProbe ? { nodeProbe: nodeOk, podProbes: new Map([['uid-web-1', nodeOk]]) } : {}),
          });
          expect(d.action).not.toBe('recycle');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: nothing is recycled before the data path is verified (default options)', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), (crash, finding) => {
        const d = decide1(
          mkPod({ ...(crash ? { crashLoop: CLBO } : { ready: false, readySince: '11:00:00' }) }),
          {
            node: { name: NODE, bootId: 'boot-2' },
            ...(finding ? { podNetworkProblems: findingFor('app/web-1') } : {}),
          },
        );
        expect(d.action).toBe('skip');
      }),
    );
  });
});

describe('judgeProbes', () => {
  const failingPod = probe('failing', [['tcp:10.96.0.1:443', false]]);
  const cases: { name: string; node?: ProbeOutcome; pod?: ProbeOutcome; want: string }[] = [
    {
      name: 'node core check fails',
      node: probe('failing', [['tcp:10.96.0.1:443', false]]),
      pod: failingPod,
      want: 'node-broken',
    },
    { name: 'node ok, pod fails the same target', node: nodeOk, pod: failingPod, want: 'pod-broken' },
    { name: 'node ok, pod ok', node: nodeOk, pod: nodeOk, want: 'ok' },
    { name: 'node ok, no pod probe', node: nodeOk, want: 'unknown' },
    { name: 'node ok, pod probe could not run', node: nodeOk, pod: probe('unknown', []), want: 'unknown' },
    { name: 'node not probed, pod fails', pod: failingPod, want: 'unknown' },
    { name: 'node probe unknown, pod fails', node: probe('unknown', []), pod: failingPod, want: 'unknown' },
    {
      name: 'only an extra target fails on the node: node not broken',
      node: probe('failing', [
        ['tcp:10.96.0.1:443', true],
        ['tcp:10.0.0.5:5672', false, false],
      ]),
      pod: failingPod,
      want: 'pod-broken',
    },
    {
      name: 'pod fails a target the node did not check',
      node: nodeOk,
      pod: probe('failing', [['tcp:10.0.0.9:80', false, false]]),
      want: 'unknown',
    },
  ];
  it.each(cases)('$name → $want', ({ node: n, pod, want }) => {
    expect(judgeProbes(n, pod).verdict).toBe(want);
  });
});

describe('recycleNodeFromNode', () => {
  const mkNode = (ann: Record<string, string>, bootID = 'boot-2'): Node =>
    ({ metadata: { name: NODE, annotations: ann }, status: { nodeInfo: { bootID } } }) as unknown as Node;
  const cases: { name: string; n: Node; want: number | undefined }[] = [
    {
      name: 'ready-at of this boot',
      n: mkNode({
        'netwarden.dev/boot-id': 'boot-2',
        'netwarden.dev/datapath-ready-at': '2026-03-01T12:00:41Z',
      }),
      want: READY_AT,
    },
    {
      name: 'ready-at of an earlier boot',
      n: mkNode({
        'netwarden.dev/boot-id': 'boot-1',
        'netwarden.dev/datapath-ready-at': '2026-03-01T12:00:41Z',
      }),
      want: undefined,
    },
    {
      name: 'no boot-id annotation',
      n: mkNode({ 'netwarden.dev/datapath-ready-at': '2026-03-01T12:00:41Z' }),
      want: undefined,
    },
    {
      name: 'unparsable time',
      n: mkNode({ 'netwarden.dev/boot-id': 'boot-2', 'netwarden.dev/datapath-ready-at': 'soon' }),
      want: undefined,
    },
    {
      name: 'node reports no boot id',
      n: mkNode(
        { 'netwarden.dev/boot-id': '', 'netwarden.dev/datapath-ready-at': '2026-03-01T12:00:41Z' },
        '',
      ),
      want: undefined,
    },
  ];
  it.each(cases)('$name', ({ n, want }) => {
    expect(recycleNodeFromNode(n).datapathReadyAtMs).toBe(want);
  });
});

describe('podProblemsFromFindings', () => {
  const pods = [
    mkPod({ name: 'web-1' }),
    { ...mkPod({ name: 'db-0' }), status: { podIP: '10.0.84.20' } } as Pod,
  ];
  const v = (n: string) => vpcCniVethName('app', n);

  it('keys pods named by the per-pod diff, with their own evidence line', () => {
    const expected = expectedPodNetworks({ pods, nodeName: NODE });
    const findings = diffPodNetworks(expected, {
      rules: parseIpRules('512:\tfrom all to 10.0.84.20 lookup main').items,
      routes: parseIpRoutes(`10.0.80.10 dev ${v('web-1')} scope link\n10.0.84.20 dev ${v('db-0')} scope link`)
        .items,
    });
    const m = podProblemsFromFindings(findings);
    expect([...m.keys()]).toEqual(['app/web-1']);
    expect(m.get('app/web-1')).toEqual([
      'pod-rule-missing: app/web-1 10.0.80.10: missing 512: from all to 10.0.80.10 lookup main',
    ]);
  });

  it('maps IP subjects to pods through their IPs and ignores other codes', () => {
    const findings = checkRoutedPodConsistency(
      parseIpRules('512:\tfrom all to 10.0.80.10 lookup main').items,
      parseIpRoutes(`10.0.84.20 dev ${v('db-0')} scope link`).items,
    );
    const m = podProblemsFromFindings(
      [
        ...findings,
        {
          code: 'kube-proxy-rules-missing',
          severity: 'critical',
          title: 't',
          evidence: ['x'],
          subjects: [{ kind: 'pod', name: 'app/other' }],
          fix: '',
        },
      ],
      pods,
    );
    expect([...m.keys()].sort()).toEqual(['app/db-0', 'app/web-1']);
  });
});
