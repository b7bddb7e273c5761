/**
 * Issue 13's field cases reproduced on real lab nodes (real kubelet, containerd, kube-proxy, CNI
 * plugins), one lab for all of them: for each case the agent's verdict — its check results with
 * their finding codes, read from /status inside the node — and `netwarden doctor --live --output
 * json` run inside the same node (its network and mount namespaces, the admin's view of the
 * cluster) name the same finding codes with the same severities. A case that breaks the data path
 * now fails the agent's gating check and keeps the gate closed; a warning case never holds it.
 *
 * The kernel here has iptables-legacy and iptables-nft (checked in beforeAll: without legacy tables
 * the backend-mix case fails loudly rather than passing vacuously).
 *
 * Cases (docs/field-cases.md):
 * 1. backend mix (#2103): the VPC CNI's node rules in iptables-legacy, kube-proxy on iptables-nft —
 *    applied and removed at runtime;
 * 7. a saved `:FORWARD DROP` ruleset restored at boot (awslabs/amazon-eks-ami#526) — one reboot;
 * 6. the CNI config of the last boot used while the CNI daemon is not ready — one reboot.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckResult, FindingRef } from '../../src/core/check.ts';
import { CONDITION_TYPE, TAINT_KEY } from '../../src/core/gate.ts';
import type { Node } from '../../src/core/objects.ts';
import { run } from '../../src/host/exec.ts';
import { labImageRef } from '../../src/lab/images.ts';
import { DEFAULT_BOOT, Lab } from '../../src/lab/lab.ts';
import { API_LAB_IP } from '../../src/lab/network.ts';
import { BOOT_TIME_FILE, LabNode, type NodeEvent } from '../../src/lab/node.ts';
import { enterNodeArgs } from '../../src/lab/node-mounts.ts';
import { waitFor } from '../../src/lab/wait.ts';
import { downAndExpectClean } from '../support/lab.ts';

const REPO = join(import.meta.dirname, '../..');
const NODE = 'node-2';

interface Status {
  readonly bootId?: string;
  readonly lastRound: {
    readonly verdict: { readonly status: string; readonly reason: string };
    readonly checks: readonly CheckResult[];
  } | null;
}

interface DoctorJson {
  readonly verdicts: Record<string, { status: string; reason: string }>;
  readonly findings: readonly { code: string; severity: string; title: string; evidence: string[] }[];
}

const gate = (n: Node | null | undefined) => ({
  status: n?.status?.conditions?.find((c) => c.type === CONDITION_TYPE)?.status,
  reason: n?.status?.conditions?.find((c) => c.type === CONDITION_TYPE)?.reason,
  tainted: (n?.spec?.taints ?? []).some((t) => t.key === TAINT_KEY),
});

const codes = (fs: readonly { code: string; severity: string }[] | undefined, severity?: string) =>
  [...new Set((fs ?? []).filter((f) => !severity || f.severity === severity).map((f) => f.code))].sort();

describe('field cases: the agent and the doctor agree on real nodes', () => {
  let lab: Lab;
  let adminInNode: string;
  const events: NodeEvent[] = [];

  beforeAll(async () => {
    lab = await Lab.up({
      nodes: 2,
      netwarden: { args: ['--steady-interval=2s', `--boot-time-file=${BOOT_TIME_FILE}`] },
      onNodeEvent: (e) => events.push(e),
    });
    // iptables-legacy must work in a namespace on this kernel, or case 1 cannot be shown (and must
    // fail). Listing creates a legacy table, so in a throwaway namespace of this run, not a node.
    const probe = `${lab.run.id}-legacy-probe`;
    await run('ip', ['netns', 'add', probe]);
    const legacy = await run('ip', ['netns', 'exec', probe, 'iptables-legacy', '-t', 'filter', '-L', '-n']);
    await run('ip', ['netns', 'delete', probe]);
    expect(legacy.code, `iptables-legacy -t filter -L in a namespace: ${legacy.stderr}`).toBe(0);
    expect(legacy.stdout).toMatch(/^Chain FORWARD \(policy ACCEPT\)/m);
    // The admin's kubeconfig, pointed at the API's lab address (a node's loopback is its own).
    const admin = JSON.parse(readFileSync(lab.cp.adminKubeconfig, 'utf8'));
    for (const c of admin.clusters)
      c.cluster.server = c.cluster.server.replace(/\/\/[^:/]+/, `//${API_LAB_IP}`);
    adminInNode = lab.run.path('kubeconfigs', 'admin-in-node.kubeconfig');
    writeFileSync(adminInNode, JSON.stringify(admin), { mode: 0o600 });
    // A routed pod on the node (the FORWARD case needs one; the config case needs a sandbox per boot).
    await lab.admin.objects.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'field-pod', namespace: 'default' },
      spec: {
        nodeName: NODE,
        containers: [{ name: 'c', image: labImageRef('pause'), imagePullPolicy: 'Never' }],
      },
    });
    await waitFor(
      'field-pod running with an address',
      async () => (await lab.pods(NODE)).find((p) => p.metadata?.name === 'field-pod')?.status?.podIP,
      60_000,
    );
    await waitGate('open', 60_000);
  });

  afterAll(() => downAndExpectClean(lab));

  const node = (): LabNode => lab.node(NODE);

  async function gateNow() {
    return gate(await lab.admin.nodes.get(NODE));
  }

  async function waitGate(want: 'open' | 'closed', timeoutMs: number): Promise<void> {
    await waitFor(
      `${NODE}'s gate ${want}`,
      async () => {
        const g = await gateNow();
        return want === 'open' ? g.status === 'True' && !g.tainted : g.status !== 'True' && g.tainted;
      },
      timeoutMs,
      250,
    );
  }

  /** The agent's /status, read inside the node (it listens on the node's loopback). */
  async function agentStatus(): Promise<Status> {
    const script =
      "fetch('http://127.0.0.1:9747/status').then((r) => r.text()).then((t) => process.stdout.write(t))";
    const r = await run('ip', ['netns', 'exec', node().netns, process.execPath, '-e', script], {
      timeoutMs: 10_000,
    });
    if (r.code !== 0) throw new Error(`agent /status: ${r.stderr.trim()}`);
    return JSON.parse(r.stdout) as Status;
  }

  /**
   * Polls /status inside the node every 50 ms (one process, so no round is missed) until the last
   * round's checks carry every wanted finding code; the kube-proxy check's full read (the only
   * one that judges the backend mix) is followed within a round by cheaper reads.
   */
  async function catchRound(want: { check: string; code: string }[], timeoutMs: number): Promise<Status> {
    const script = `
      const want = JSON.parse(process.argv[1]);
      const end = Date.now() + Number(process.argv[2]);
      (async () => {
        let last = '';
        while (Date.now() < end) {
          try {
            last = await (await fetch('http://127.0.0.1:9747/status')).text();
            const checks = JSON.parse(last).lastRound?.checks ?? [];
            const has = (w) => checks.some((c) => c.check === w.check && (c.findings ?? []).some((f) => f.code === w.code));
            if (want.every(has)) { process.stdout.write(last); return; }
          } catch {}
          await new Promise((r) => setTimeout(r, 50));
        }
        process.stderr.write('no such round; last /status: ' + last);
        process.exit(1);
      })();`;
    const r = await run(
      'ip',
      [
        'netns',
        'exec',
        node().netns,
        process.execPath,
        '-e',
        script,
        JSON.stringify(want),
        String(timeoutMs),
      ],
      { timeoutMs: timeoutMs + 10_000, maxOutputBytes: 16 * 1024 * 1024 },
    );
    if (r.code !== 0) throw new Error(`agent on ${NODE}: ${JSON.stringify(want)}: ${r.stderr.slice(-3000)}`);
    return JSON.parse(r.stdout) as Status;
  }

  const check = (s: Status, name: string): CheckResult | undefined =>
    s.lastRound?.checks.find((c) => c.check === name);

  /** Waits until the agent's last round has a check satisfying `ok`; returns that round. */
  async function waitAgent(what: string, ok: (s: Status) => boolean, timeoutMs: number): Promise<Status> {
    let last: Status | undefined;
    return waitFor(
      `agent on ${NODE}: ${what}`,
      async () => {
        last = await agentStatus().catch(() => undefined);
        return last && ok(last) ? last : undefined;
      },
      timeoutMs,
      250,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}; last checks: ${JSON.stringify(last?.lastRound?.checks ?? null)}`);
    });
  }

  /** `netwarden doctor --live --output json` inside the node, with the admin's view of the cluster. */
  async function doctor(): Promise<DoctorJson> {
    const pid = node().holder?.pid;
    if (!pid) throw new Error(`${NODE} is powered off`);
    const r = await run(
      'nsenter',
      [
        ...enterNodeArgs(pid, node().netns),
        process.execPath,
        join(REPO, 'src/cli/main.ts'),
        'doctor',
        '--live',
        '--output',
        'json',
        `--kubeconfig=${adminInNode}`,
        `--node=${NODE}`,
        `--cni-health-url=${LabNode.CNI_HEALTH_URL}`,
        `--boot-time-file=${BOOT_TIME_FILE}`,
      ],
      { timeoutMs: 60_000, maxOutputBytes: 16 * 1024 * 1024 },
    );
    // Exit 1 means findings; 2 is a usage or input error.
    expect(r.code, r.stderr).not.toBe(2);
    return JSON.parse(r.stdout) as DoctorJson;
  }

  /**
   * A new TCP connection from field-pod's network namespace to the API server's lab address (the
   * `kubernetes` endpoint, reached through the node: forwarded): `connected`, or the error.
   */
  async function podConnect(): Promise<string> {
    const pid = node().holder?.pid;
    const pod = (await lab.pods(NODE)).find((p) => p.metadata?.name === 'field-pod');
    const ip = pod?.status?.podIP;
    if (!pid || !ip) throw new Error('field-pod has no address');
    const port = new URL(JSON.parse(readFileSync(adminInNode, 'utf8')).clusters[0].cluster.server).port;
    const probe = `const s = require('node:net').connect(Number(process.argv[2]), process.argv[1]);
      s.setTimeout(3000, () => { process.stdout.write('timed out'); process.exit(0); });
      s.on('connect', () => { process.stdout.write('connected'); process.exit(0); });
      s.on('error', (e) => { process.stdout.write(e.code ?? e.message); process.exit(0); });`;
    // The pod's namespace is the one of containerd's cni-* namespaces that holds its address.
    const script = `for n in /run/netns/cni-*; do
        if nsenter --net="$n" ip -4 -o addr show | grep -q " $1/"; then
          exec nsenter --net="$n" "$2" -e "$3" "$4" "$5"
        fi
      done
      echo "no namespace holds $1" >&2; exit 1`;
    const r = await run(
      'nsenter',
      [
        `--mount=/proc/${pid}/ns/mnt`,
        'sh',
        '-c',
        script,
        'sh',
        ip,
        process.execPath,
        probe,
        API_LAB_IP,
        port,
      ],
      { timeoutMs: 20_000 },
    );
    if (r.code !== 0) throw new Error(`probe from field-pod: ${r.stderr.trim()}`);
    return r.stdout.trim();
  }

  /** Every finding behind the agent's last round (all its checks). */
  const agentFindings = (s: Status): FindingRef[] =>
    s.lastRound?.checks.flatMap((c) => c.findings ?? []) ?? [];

  /** The warning and critical codes (as `code/severity`) one side has and the other lacks. */
  function parity(s: Status, d: DoctorJson): { agentOnly: string[]; doctorOnly: string[] } {
    const key = (fs: readonly { code: string; severity: string }[]) =>
      new Set(fs.filter((f) => f.severity !== 'info').map((f) => `${f.code}/${f.severity}`));
    const a = key(agentFindings(s));
    const o = key(d.findings);
    const out = {
      agentOnly: [...a].filter((k) => !o.has(k)).sort(),
      doctorOnly: [...o].filter((k) => !a.has(k)).sort(),
    };
    console.log(
      `parity on ${NODE}: ${JSON.stringify({ agent: [...a].sort(), doctor: [...o].sort(), ...out })}`,
    );
    return out;
  }

  /** Samples the gate for `ms`; returns every distinct state seen. */
  async function sampleGate(ms: number): Promise<ReturnType<typeof gate>[]> {
    const seen = new Map<string, ReturnType<typeof gate>>();
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const g = await gateNow();
      seen.set(JSON.stringify(g), g);
      await new Promise((r) => setTimeout(r, 250));
    }
    return [...seen.values()];
  }

  it('case 1, backend mix: VPC CNI rules in iptables-legacy beside kube-proxy on nft — same warnings, gate open', async () => {
    await node().writeVpcRulesInLegacy();
    // kube-proxy's backend judgement runs on its full read: a restarted agent starts with one
    // (later steady rounds read only the capture chains until the next full read).
    await node().stopAgent();
    const round = catchRound(
      [
        { check: 'kube-proxy', code: 'iptables-backend-mismatch' },
        { check: 'cni', code: 'cni-config-conflict' },
      ],
      45_000,
    );
    await node().startAgent();
    const s = await round;
    const d = await doctor();
    const agent = agentFindings(s);
    // The same codes, with the same severities, from both.
    for (const code of ['iptables-backend-mismatch', 'cni-config-conflict']) {
      expect(agent.filter((f) => f.code === code).map((f) => f.severity)).toEqual(['warning']);
      expect(d.findings.filter((f) => f.code === code).map((f) => f.severity)).toEqual(['warning']);
    }
    expect(d.findings.find((f) => f.code === 'iptables-backend-mismatch')?.title).toMatch(
      /kube-proxy's rules are in iptables-nft, but the VPC CNI's rules are in iptables-legacy/,
    );
    expect(codes(agent, 'critical')).toEqual([]);
    expect(codes(d.findings, 'critical')).toEqual([]);
    expect(parity(s, d)).toEqual({ agentOnly: [], doctorOnly: [] });
    // A warning never holds the node: checks Ok, the gate stays open round after round.
    expect(check(s, 'kube-proxy')?.status).toBe('Ok');
    expect(check(s, 'cni')?.status).toBe('Ok');
    expect(await sampleGate(6_000)).toEqual([{ status: 'True', reason: 'DataPathVerified', tainted: false }]);
    // And the warning is right not to hold: the pod's forwarded connections still work.
    expect(await podConnect()).toBe('connected');

    await node().removeVpcRulesInLegacy();
    await waitAgent(
      'the mix gone',
      (x) => !codes(check(x, 'cni')?.findings).includes('cni-config-conflict'),
      30_000,
    );
  });

  it('case 7, FORWARD DROP restored at boot: forward-policy-drop critical in both, gate held until FORWARD accepts', async () => {
    const bootAt = Date.now();
    await lab.reboot(NODE, { ...DEFAULT_BOOT, faults: ['forward-drop-restored'] });
    const s = await waitAgent(
      'kube-proxy synced and the cni check failing on the FORWARD policy (a settled state to compare)',
      (x) =>
        check(x, 'kube-proxy')?.status === 'Ok' &&
        check(x, 'cni')?.status === 'Failing' &&
        check(x, 'cni')?.reason === 'ForwardPolicyDrop',
      90_000,
    );
    const restored = events.find((e) => e.event === 'iptables-restored' && e.atMs >= bootAt);
    expect(restored?.detail).toMatch(/^saved ruleset with FORWARD DROP restored/);
    const d = await doctor();
    expect(check(s, 'cni')?.findings?.filter((f) => f.code === 'forward-policy-drop')).toEqual([
      { code: 'forward-policy-drop', severity: 'critical' },
    ]);
    expect(d.findings.filter((f) => f.code === 'forward-policy-drop').map((f) => f.severity)).toEqual([
      'critical',
    ]);
    expect(d.verdicts.cni).toMatchObject({ status: 'broken', reason: 'ForwardPolicyDrop' });
    expect(parity(s, d)).toEqual({ agentOnly: [], doctorOnly: [] });
    // The gate is closed, and stays closed while the policy drops.
    expect(s.lastRound?.verdict.status).toBe('Failing');
    const held = await sampleGate(5_000);
    expect(held.every((g) => g.status === 'False' && g.tainted)).toBe(true);
    // The critical finding is true: a new forwarded connection from the pod is dropped.
    expect(await podConnect()).toBe('timed out');
    // Undo as an operator would: the policy back to ACCEPT opens the gate, and the pod connects.
    await node().acceptForward();
    await waitGate('open', 60_000);
    expect(await podConnect()).toBe('connected');
  });

  it('case 6, CNI config of the last boot while the daemon is not ready: the same warning in both; the daemon, not the warning, holds', async () => {
    const bootAt = Date.now();
    await lab.reboot(NODE, {
      kubeProxyDelayMs: 0,
      cniReadyDelayMs: 35_000,
      faults: ['cni-config-persisted'],
    });
    const s = await waitAgent(
      'kube-proxy synced and cni-config-without-daemon seen',
      (x) =>
        check(x, 'kube-proxy')?.status === 'Ok' &&
        codes(check(x, 'cni')?.findings).includes('cni-config-without-daemon'),
      30_000,
    );
    expect(lab.cniReady(NODE)).toBe(false);
    const d = await doctor();
    expect(lab.cniReady(NODE)).toBe(false);
    expect(check(s, 'cni')?.findings?.filter((f) => f.code === 'cni-config-without-daemon')).toEqual([
      { code: 'cni-config-without-daemon', severity: 'warning' },
    ]);
    const finding = d.findings.filter((f) => f.code === 'cni-config-without-daemon');
    expect(finding.map((f) => f.severity)).toEqual(['warning']);
    expect(finding[0]?.evidence.join('\n')).toMatch(/default\/field-pod/);
    // What fails the check is the daemon's own answer (HTTP 503), the same in both.
    expect(check(s, 'cni')).toMatchObject({ status: 'Failing', reason: 'CniDaemonNotReady' });
    expect(d.verdicts.cni).toMatchObject({ status: 'broken', reason: 'CniDaemonNotReady' });
    expect(parity(s, d)).toEqual({ agentOnly: [], doctorOnly: [] });
    // Once the daemon is ready (the old config still in place), the gate opens.
    await waitGate('open', 60_000);
    expect(lab.cniReady(NODE)).toBe(true);
    expect(Date.now() - bootAt).toBeGreaterThan(35_000);
  });
});
