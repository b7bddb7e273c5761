/**
 * Steady state costs zero API writes: one real agent (not dry-run) for its own Node, next to a
 * real kube-proxy, against the real API server. Once its gate has opened, the agent's writes are
 * counted in the API server's audit log over a window longer than two periods of any periodic
 * write it ever had (the condition heartbeat was 60 s), while the Node's status is updated the way
 * a kubelet does and the agent runs a round every few seconds. Then a new boot of the Node shows
 * that writes on change still happen and are counted by the same means.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOOT_ID_ANNOTATION, CONDITION_TYPE, READY_AT_ANNOTATION, TAINT_KEY } from '../../src/core/gate.ts';
import { countByUser, readAuditLog, requestsIn, WRITE_VERBS } from '../../src/lab/audit.ts';
import { Fleet } from '../../src/lab/fleet.ts';
import { eventually } from '../support/control-plane.ts';

const AGENT_USER = 'system:serviceaccount:netwarden:netwarden-agent';
/** Longer than two 60 s periods: a write repeated every minute or faster shows at least twice. */
const WINDOW_MS = 150_000;

/** The agent's write requests in [from, to): `verb resource` → count. */
function agentWrites(fleet: Fleet, fromMs: number, toMs: number): Record<string, number> {
  const byUser = countByUser(requestsIn(readAuditLog(fleet.cp.auditLogPath as string), fromMs, toMs));
  return Object.fromEntries(
    Object.entries(byUser[AGENT_USER] ?? {}).filter(([k]) => WRITE_VERBS.has(k.split(' ')[0] ?? '')),
  );
}

async function rounds(fleet: Fleet): Promise<number> {
  const samples = await fleet.agentMetrics(1);
  return samples.filter((s) => s.name === 'netwarden_rounds_total').reduce((a, s) => a + s.value, 0);
}

describe('steady-state API writes', () => {
  let fleet: Fleet;
  const self = 'node-0001';

  beforeAll(async () => {
    fleet = await Fleet.up({ nodes: 3, hosts: 1, services: 20, endpoints: 5 });
    await fleet.startKubeProxies();
    await fleet.startAgents(1, { args: ['--dry-run=false', '--steady-interval=5s'] });
  }, 600_000);
  afterAll(async () => {
    await fleet?.down();
  });

  const gate = async () => {
    const node = await fleet.admin.nodes.get(self);
    return {
      condition: node?.status?.conditions?.find((c) => c.type === CONDITION_TYPE),
      tainted: (node?.spec?.taints ?? []).some((t) => t.key === TAINT_KEY),
      annotations: node?.metadata?.annotations ?? {},
    };
  };

  it('writes nothing while its gate stays open, and writes again on a change', async () => {
    await eventually(
      'the gate to open',
      async () => {
        const g = await gate();
        return g.condition?.status === 'True' && !g.tainted;
      },
      180_000,
    );
    fleet.startStatusUpdates(20_000);
    await new Promise((r) => setTimeout(r, 10_000)); // past the opening's own writes
    const from = Date.now();
    const rounds0 = await rounds(fleet);
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const rounds1 = await rounds(fleet);
    const to = Date.now();
    fleet.stopStatusUpdates();
    // the agent was alive and checking all along (≥ one round per 5 s steady interval, some slack)
    expect(rounds1 - rounds0).toBeGreaterThanOrEqual(WINDOW_MS / 5_000 / 2);
    expect((await gate()).condition?.status).toBe('True');
    expect(agentWrites(fleet, from, to)).toEqual({});

    // A new boot: the gate closes (taint, condition, annotations) and opens again — all counted.
    const changed = Date.now();
    const boot = randomUUID();
    await fleet.admin.objects.patchNodeStatus(self, { nodeInfo: { bootID: boot } });
    await eventually(
      'the gate to close for the new boot and open again',
      async () => {
        const g = await gate();
        return (
          g.annotations[BOOT_ID_ANNOTATION] === boot &&
          g.annotations[READY_AT_ANNOTATION] !== undefined &&
          g.condition?.status === 'True' &&
          !g.tainted
        );
      },
      120_000,
    );
    await new Promise((r) => setTimeout(r, 3_000)); // the audit log is written asynchronously
    const writes = agentWrites(fleet, changed, Date.now());
    expect(writes['patch nodes']).toBeGreaterThanOrEqual(2); // taint on, taint off (+ annotations)
    expect(writes['patch nodes/status']).toBeGreaterThanOrEqual(2); // condition False, then True
  }, 600_000);
});
