import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.ts';
import { BOOT_ID_ANNOTATION, READY_AT_ANNOTATION } from '../core/gate.ts';
import type { Node, Pod, Service } from '../core/objects.ts';
import type { ProbeOutcome } from '../core/probe.ts';
import type { NetnsLocation } from '../host/netns-locator.ts';
import { FakeCluster } from '../kube/fake.ts';
import { Recycler } from './recycler.ts';
import { Repair } from './repair.ts';

const READY_AT = Date.UTC(2026, 2, 1, 12, 0, 41);
const iso = (ms: number): string => new Date(ms).toISOString();

function node(bootId: string): Node {
  return {
    metadata: {
      name: 'node-a',
      annotations: { [BOOT_ID_ANNOTATION]: bootId, [READY_AT_ANNOTATION]: iso(READY_AT) },
    },
    status: { nodeInfo: { bootID: bootId } },
  } as unknown as Node;
}

/** A pod whose network was set up 38 s before the data path was verified; ready unless told. */
function earlyPod(name: string, ready = true): Pod {
  return {
    metadata: {
      namespace: 'app',
      name,
      uid: `uid-${name}`,
      creationTimestamp: iso(READY_AT - 60_000),
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'rs', controller: true },
      ],
    },
    spec: { nodeName: 'node-a', containers: [{ name: 'app' }] },
    status: {
      phase: 'Running',
      conditions: [
        { type: 'PodReadyToStartContainers', status: 'True', lastTransitionTime: iso(READY_AT - 38_000) },
        {
          type: 'ContainersReady',
          status: ready ? 'True' : 'False',
          lastTransitionTime: iso(READY_AT - 30_000),
        },
      ],
      containerStatuses: [
        { name: 'app', image: 'app', imageID: '', ready, restartCount: 0, state: { running: {} } },
      ],
    },
  } as unknown as Pod;
}

const SERVICES: Service[] = [
  {
    metadata: { namespace: 'default', name: 'kubernetes' },
    spec: { clusterIP: '10.96.0.1', ports: [{ port: 443, protocol: 'TCP' }] },
  },
  {
    metadata: { namespace: 'kube-system', name: 'kube-dns' },
    spec: { clusterIP: '10.96.0.10', ports: [{ port: 53, protocol: 'UDP', name: 'dns' }] },
  },
];

const OK: ProbeOutcome = { status: 'ok', checks: [], detail: 'ok' };

function harness() {
  const clock = new ManualClock(READY_AT + 120_000);
  const fake = new FakeCluster(clock);
  const probed: string[] = [];
  const loc = (path: string): NetnsLocation => ({ path, netnsId: `net:[${path}]`, via: 'test' });
  const repair = new Repair({
    recycler: new Recycler({
      evictions: fake,
      events: fake,
      clock,
      registry: new Registry(),
      nodeName: 'node-a',
      dryRun: false,
    }),
    locator: { locate: async (uids) => new Map(uids.map((u) => [u, loc(u)])) },
    selfNetns: async () => loc('self'),
    probe: async (where) => {
      probed.push(where.path);
      return OK;
    },
    clock,
    log: pino({ level: 'silent' }),
  });
  return { repair, probed, clock };
}

describe('Repair probes', () => {
  it('probes a healthy early pod until its probe passes on this boot, then not again while it stays so', async () => {
    const { repair, probed } = harness();
    const pods = [earlyPod('web-1')];
    const cluster = { services: SERVICES, endpointSlices: [], pods };
    const first = await repair.round(node('boot-1'), pods, cluster);
    expect(first.podsProbed).toBe(1);
    expect(probed).toEqual(['self', 'uid-web-1']);
    for (let i = 0; i < 3; i++)
      expect((await repair.round(node('boot-1'), pods, cluster)).podsProbed).toBe(0);
    expect(probed).toHaveLength(2); // neither the pod nor the node again

    // Its own kernel state goes wrong: suspect again, probed again.
    const problems = new Map([['app/web-1', ['no host route to 10.0.0.5']]]);
    const withProblem = await repair.round(node('boot-1'), pods, cluster, { podNetworkProblems: problems });
    expect(withProblem.podsProbed).toBe(1);

    // A new boot forgets what the last one settled.
    expect((await repair.round(node('boot-2'), pods, cluster)).podsProbed).toBe(1);
  });

  it('probes a cleared pod again once it is no longer ready', async () => {
    const { repair } = harness();
    const ready = [earlyPod('web-1')];
    const cluster = { services: SERVICES, endpointSlices: [], pods: ready };
    expect((await repair.round(node('boot-1'), ready, cluster)).podsProbed).toBe(1);
    expect((await repair.round(node('boot-1'), ready, cluster)).podsProbed).toBe(0);
    const unready = [earlyPod('web-1', false)];
    const again = await repair.round(node('boot-1'), unready, { ...cluster, pods: unready });
    expect(again.podsProbed).toBe(1);
  });
});
