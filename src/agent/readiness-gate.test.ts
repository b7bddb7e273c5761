import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.ts';
import { BOOT_SEEN_AT_ANNOTATION } from '../core/gate.ts';
import type { Node, Pod } from '../core/objects.ts';
import { POD_NETWORK_READY } from '../core/pod-readiness.ts';
import type { ProbeOutcome } from '../core/probe.ts';
import type { NetnsLocation } from '../host/netns-locator.ts';
import { FakeCluster } from '../kube/fake.ts';
import { service } from '../netfilter/testing.ts';
import { ReadinessGate } from './readiness-gate.ts';

const cluster = {
  services: [
    service('default', 'kubernetes', '10.96.0.1', [{ name: 'https', port: 443 }]),
    service('kube-system', 'kube-dns', '10.96.0.10', [{ name: 'dns', port: 53, protocol: 'UDP' }]),
  ],
  endpointSlices: [],
  pods: [],
};

function setup(outcomes: Record<string, ProbeOutcome>) {
  const clock = new ManualClock(Date.parse('2026-06-01T10:05:00Z'));
  const fake = new FakeCluster(clock);
  const probed: string[] = [];
  const gate = new ReadinessGate({
    pods: fake,
    locator: {
      locate: async (uids) =>
        new Map(
          uids
            .filter((u) => u !== 'no-netns')
            .map((u) => [u, { path: `/x/${u}`, netnsId: 'net:[1]', via: 'test' } as NetnsLocation]),
        ),
    },
    probe: async (loc) => {
      const uid = loc.path.slice(3);
      probed.push(uid);
      return outcomes[uid] ?? { status: 'unknown', checks: [], detail: '?' };
    },
    clock,
    log: pino({ level: 'silent' }),
    dryRun: false,
  });
  const node: Node = {
    metadata: { name: 'n1', annotations: { [BOOT_SEEN_AT_ANNOTATION]: '2026-06-01T10:00:00Z' } },
  };
  return { gate, fake, probed, clock, node };
}

const gated = (uid: string, cond?: { status: string; at: string }): Pod => ({
  metadata: { namespace: 'app', name: uid, uid },
  spec: { nodeName: 'n1', containers: [], readinessGates: [{ conditionType: POD_NETWORK_READY }] },
  status: {
    phase: 'Running',
    podIP: '10.244.1.9',
    conditions: cond ? [{ type: POD_NETWORK_READY, status: cond.status, lastTransitionTime: cond.at }] : [],
  },
});

describe('ReadinessGate.round', () => {
  it('probes gated pods, writes True/False by the probe, resets a True from the previous boot', async () => {
    const { gate, fake, probed, node } = setup({
      good: { status: 'ok', checks: [], detail: '2 check(s) ok' },
      bad: { status: 'failing', checks: [], detail: 'connect 10.96.0.1:443: ENETUNREACH after 0 ms' },
    });
    const pods = [
      gated('good'),
      gated('bad'),
      gated('old', { status: 'True', at: '2026-06-01T09:00:00Z' }),
      gated('no-netns'),
    ];
    for (const p of pods) fake.pods.set(`app/${p.metadata?.name}`, structuredClone(p));
    const r = await gate.round(node, pods, cluster);
    expect(probed.sort()).toEqual(['bad', 'good']);
    const byPod = Object.fromEntries(
      fake.podConditionWrites.map((w) => [w.pod, [w.condition.status, w.condition.reason]]),
    );
    expect(byPod).toEqual({
      'app/good': ['True', 'PodNetworkVerified'],
      'app/bad': ['False', 'PodNetworkProbeFailing'],
      'app/old': ['False', 'NewBootNotVerified'],
      'app/no-netns': ['False', 'PodNetworkNotVerified'],
    });
    expect(r.probed).toBe(3);
    // all four were waiting (three to probe, one reset); a True of this boot is not
    expect(r.waiting).toBe(4);
    const verified = fake.pods.get('app/good') as Pod;
    expect((await gate.round(node, [verified], cluster)).waiting).toBe(0);
  });

  it('does not probe a pod again within its interval, and writes nothing when nothing changes', async () => {
    const { gate, fake, probed, clock, node } = setup({
      bad: { status: 'failing', checks: [], detail: 'x' },
    });
    const bad = gated('bad');
    fake.pods.set('app/bad', structuredClone(bad));
    await gate.round(node, [bad], cluster);
    const after = fake.pods.get('app/bad') as Pod;
    await gate.round(node, [after], cluster);
    expect(probed).toEqual(['bad']);
    clock.advance(2_000);
    await gate.round(node, [after], cluster);
    expect(probed).toEqual(['bad', 'bad']);
    expect(fake.podConditionWrites).toHaveLength(1); // same verdict: no second write
  });
});
