/**
 * The boot gate in a real CNI chain: the lab's ptp + host-local, then netwarden-cni-gate, run the
 * way a runtime runs a conflist (src/lab/cni.ts), for pods in throwaway network namespaces of a
 * throwaway node namespace. The conflist is the one the installer writes from the "CNI daemon's"
 * own; the node-local state is written by the agent's real writer (GateState). Each "boot" is a
 * boot id file of the test's (the plugin's bootIdFile), so boots change without a reboot.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { installBootGate } from '../../src/cni-gate/install.ts';
import { GateState } from '../../src/cni-gate/state.ts';
import {
  DEFAULT_GATE_SETTINGS,
  formatBootSeen,
  GATE_FILES,
  type GateSettings,
  gateEntry,
} from '../../src/core/boot-gate.ts';
import { run } from '../../src/host/exec.ts';
import { ensureBinaries } from '../../src/lab/binaries.ts';
import {
  type CniConfList,
  CniPluginError,
  type CniRuntimeContext,
  cniAdd,
  cniDel,
} from '../../src/lab/cni.ts';
import { type CniNode, createCniNode } from '../../src/lab/cni-node.ts';
import { listNetns } from '../../src/lab/network.ts';

let node: CniNode;
let pods = 0;
let before: string[] = [];

beforeAll(async () => {
  node = await createCniNode(await ensureBinaries(), ['netwarden-cni-gate']);
});
beforeEach(() => {
  before = allocatedNow();
});

/** Addresses allocated since the test began (each test must release its own). */
const allocated = (): string[] => allocatedNow().filter((a) => !before.includes(a));
afterAll(async () => {
  const id = node?.run.id;
  expect(await node?.close()).toEqual([]);
  if (id) expect(await listNetns(id)).toEqual([]);
});

/** One boot of one node: its boot id file, its state folder, its installed conflist. */
async function boot(overrides: Partial<GateSettings> = {}) {
  const root = mkdtempSync(join(node.run.dir, 'boot-'));
  const bootId = randomUUID();
  writeFileSync(join(root, 'boot_id'), `${bootId}\n`);
  const settings: GateSettings = {
    ...DEFAULT_GATE_SETTINGS,
    stateDir: join(root, 'run'),
    bootIdFile: join(root, 'boot_id'),
    maxWaitMs: 1_000,
    ...overrides,
  };
  // The "CNI daemon" writes its conflist; the installer adds the gate to it.
  const confDir = join(root, 'net.d');
  mkdirSync(confDir);
  const daemonConf = { cniVersion: '1.0.0', name: 'lab-pods', plugins: [node.ptpPlugin] };
  writeFileSync(join(confDir, '10-lab.conflist'), JSON.stringify(daemonConf));
  const installed = await installBootGate(
    { confDir, binDir: join(root, 'bin') },
    join(node.cniBin, 'netwarden-cni-gate'),
    gateEntry(settings),
  );
  expect(installed.conf).toMatchObject({ state: 'installed', file: '10-lab.conflist', changed: true });
  const conf = JSON.parse(readFileSync(join(confDir, '10-lab.conflist'), 'utf8')) as CniConfList;
  expect(conf.plugins.map((p) => p.type)).toEqual(['ptp', 'netwarden-cni-gate']);
  const state = new GateState(settings.stateDir, settings.bootIdFile);
  return { bootId, settings, conf, state, daemonConf: daemonConf as CniConfList };
}

/** A pod: its namespace and the runtime context of its sandbox. */
async function pod(namespace = 'shop'): Promise<CniRuntimeContext & { name: string }> {
  const name = `pod${++pods}`;
  return {
    name,
    containerId: `c${pods}-${randomUUID().slice(0, 8)}`,
    netnsPath: await node.podNetns(name),
    ifName: 'eth0',
    cniPath: node.cniBin,
    args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: namespace, K8S_POD_NAME: name },
    timeoutMs: 60_000,
  };
}

/** ADD as a runtime does it: on failure, DEL the chain (containerd's teardown), then rethrow. */
async function add(conf: CniConfList, ctx: CniRuntimeContext) {
  try {
    return await cniAdd(conf, ctx);
  } catch (err) {
    await cniDel(conf, ctx);
    throw err;
  }
}

/** Addresses host-local holds (one file per allocated IP, besides its own bookkeeping). */
function allocatedNow(): string[] {
  const dir = join(node.run.dir, 'ipam', 'lab-pods');
  try {
    return readdirSync(dir).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
  } catch {
    return [];
  }
}

async function podAddress(netnsPath: string): Promise<string> {
  const name = netnsPath.split('/').pop() ?? '';
  return (await run('ip', ['-n', name, '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout;
}

const counters = async (state: GateState) => state.counters();

describe('netwarden-cni-gate in a real chain', () => {
  it('verified boot: ADD passes the chain result through, the pod has its address; DEL releases it', async () => {
    const b = await boot();
    await b.state.beat();
    await b.state.markVerified(b.bootId);
    const p = await pod();
    const q = await pod();
    const ptpOnly = await cniAdd(b.daemonConf, q); // the same chain without the gate
    const res = await add(b.conf, p);
    // The gate's result is ptp's result: same shape, this pod's address.
    expect(Object.keys(res).sort()).toEqual(Object.keys(ptpOnly).sort());
    const ip = res.ips?.[0]?.address ?? '';
    expect(ip).toMatch(/^10\.244\.7\.\d+\/\d+$/);
    expect(await podAddress(p.netnsPath)).toContain(ip.split('/')[0]);
    expect((await counters(b.state)).passed).toBe(1);
    await cniDel(b.conf, p, res);
    await cniDel(b.daemonConf, q, ptpOnly);
    expect(allocated()).toEqual([]);
  });

  it('unverified boot with the agent running: holds for maxWait, then code 11; the runtime DEL cleans up', async () => {
    const b = await boot({ maxWaitMs: 1_500 });
    await b.state.beat();
    const p = await pod();
    const err = await add(b.conf, p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CniPluginError);
    expect(err).toMatchObject({ plugin: 'netwarden-cni-gate', cniCode: 11 });
    expect((err as Error).message).toMatch(
      /network is not ready: .*not verified yet .*try again later.*the agent is verifying/,
    );
    expect(allocated()).toEqual([]);
    expect((await counters(b.state)).retry).toBe(1);
    expect((await b.state.logSummary(b.bootId)).maxHeldMs).toBeGreaterThanOrEqual(1_500);
  });

  it('verified during the wait: the held ADD ends at once with code 11, the runtime tears it down, the set-up again passes', async () => {
    const b = await boot({ maxWaitMs: 60_000 });
    await b.state.beat();
    const p = await pod();
    const started = Date.now();
    const pending = add(b.conf, p).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 500));
    await b.state.markVerified(b.bootId); // what the agent does when its gate opens
    // The wait ended on the verification (maxWait is 60 s), but ptp ran before it: the answer
    // is "set up again", in the words that make the kubelet retry within a second.
    const err = await pending;
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(err).toMatchObject({ plugin: 'netwarden-cni-gate', cniCode: 11 });
    expect((err as Error).message).toMatch(/network is not ready: this set-up began before .* verified/);
    expect(allocated()).toEqual([]); // the DEL undid ptp's half
    const res = await add(b.conf, p);
    expect(res.ips?.[0]?.address).toMatch(/^10\.244\.7\./);
    expect(await counters(b.state)).toMatchObject({ released: 1, retry: 0, passed: 1 });
    const log = await b.state.logSummary(b.bootId);
    expect(log).toMatchObject({ held: 1, released: 1 });
    expect(log.maxHeldMs).toBeGreaterThan(0);
    await cniDel(b.conf, p, res);
  });

  it('past bootGateDeadline since the boot was first seen: passes through (fail-open)', async () => {
    const b = await boot({ bootGateDeadlineMs: 60_000 });
    await b.state.beat();
    const now = (await b.state.stamp()).uptimeMs;
    writeFileSync(
      join(b.settings.stateDir, GATE_FILES.bootSeen),
      formatBootSeen({ bootId: b.bootId, uptimeMs: now - 61_000 }),
    );
    const p = await pod();
    const res = await add(b.conf, p);
    expect(res.ips?.[0]?.address).toMatch(/^10\.244\.7\./);
    expect((await counters(b.state)).failed_open_deadline).toBe(1);
    await cniDel(b.conf, p, res);
  });

  it('agent not running: absent after the start grace, or its heartbeat stale, passes through', async () => {
    const absent = await boot({ agentStartGraceMs: 1 });
    const p = await pod();
    const res = await add(absent.conf, p);
    expect(res.ips?.[0]?.address).toMatch(/^10\.244\.7\./);
    expect((await counters(absent.state)).failed_open_agent_absent).toBe(1);
    await cniDel(absent.conf, p, res);

    const stale = await boot({ heartbeatStaleMs: 1_000 });
    await stale.state.beat();
    await new Promise((r) => setTimeout(r, 1_200));
    const q = await pod();
    const res2 = await add(stale.conf, q);
    expect((await counters(stale.state)).failed_open_agent_stale).toBe(1);
    await cniDel(stale.conf, q, res2);
  });

  it('a verification of another boot does not count; exempt namespaces pass', async () => {
    const b = await boot({ maxWaitMs: 500 });
    await b.state.beat();
    await b.state.markVerified(randomUUID()); // the previous boot's record, had /run survived
    const p = await pod();
    expect(await add(b.conf, p).catch((e: unknown) => (e as CniPluginError).cniCode)).toBe(11);
    const sys = await pod('kube-system');
    const res = await add(b.conf, sys);
    expect((await counters(b.state)).exempt).toBe(1);
    await cniDel(b.conf, sys, res);
  });

  it('DEL always succeeds: for a never-added pod, with and without a cached result, twice', async () => {
    const b = await boot();
    const p = await pod();
    await cniDel(b.conf, p);
    await cniDel(b.conf, p, { cniVersion: '1.0.0', ips: [{ address: '10.244.7.250/32' }] });
    await node.deletePodNetns(p.name);
    await cniDel(b.conf, p); // the namespace is gone too
    expect(allocated()).toEqual([]);
  });

  it('STATUS, CHECK, GC and VERSION answer per spec', async () => {
    const gate = join(node.cniBin, 'netwarden-cni-gate');
    const env = (command: string) => ({
      PATH: process.env.PATH ?? '',
      CNI_COMMAND: command,
      CNI_PATH: node.cniBin,
    });
    for (const command of ['STATUS', 'CHECK', 'GC']) {
      const r = await run(gate, [], {
        env: env(command),
        input: '{"cniVersion":"1.1.0","name":"n","type":"netwarden-cni-gate"}',
      });
      expect({ command, code: r.code, stdout: r.stdout }).toEqual({ command, code: 0, stdout: '' });
    }
    const v = await run(gate, [], { env: env('VERSION'), input: '{"cniVersion":"1.1.0"}' });
    expect(JSON.parse(v.stdout)).toEqual({
      cniVersion: '1.1.0',
      supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'],
    });
  });
});
