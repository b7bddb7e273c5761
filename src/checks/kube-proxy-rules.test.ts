import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ExecResult } from '../host/exec.ts';
import { execResult } from '../host/testing.ts';
import { expectedServicePorts } from '../netfilter/expected.ts';
import { renderKubeProxyIptables } from '../netfilter/render-ruleset.ts';
import { smallCluster } from '../netfilter/testing.ts';
import type { CheckContext } from './check.ts';
import { CAPTURE_SCRIPT, kubeProxyRulesCheck, splitCaptureOutput } from './kube-proxy-rules.ts';

const cluster = smallCluster('node-a');
const dump = renderKubeProxyIptables(expectedServicePorts(cluster, { nodeName: 'node-a' }));

/** `iptables -t <table> -S <chain>` as iptables prints it, from an iptables-save dump. */
function listChain(text: string, table: string, chain: string): string {
  const section = text.split(`*${table}\n`)[1]?.split('COMMIT')[0] ?? '';
  const builtin = ['PREROUTING', 'OUTPUT', 'INPUT', 'FORWARD', 'POSTROUTING'].includes(chain);
  const head = builtin ? `-P ${chain} ACCEPT` : `-N ${chain}`;
  return [head, ...section.split('\n').filter((l) => l.startsWith(`-A ${chain} `))].join('\n');
}

function ctx(state: { dump: string; steady: boolean; generation: number; calls: string[] }): CheckContext {
  const ok = (stdout: string): ExecResult => execResult({ stdout });
  return {
    nodeName: 'node-a',
    cluster: () => cluster,
    exec: async (cmd, args) => {
      state.calls.push([cmd, ...args].join(' '));
      if (cmd.endsWith('-save')) return ok(state.dump);
      // sh -c CAPTURE_SCRIPT sh <iptables> <table> <chain> …: answer as the script would
      const pairs = args.slice(4);
      let out = '';
      for (let i = 0; i + 1 < pairs.length; i += 2) {
        out += `#netwarden-chain ${pairs[i]} ${pairs[i + 1]}\n${listChain(state.dump, pairs[i] ?? '', pairs[i + 1] ?? '')}\n#netwarden-exit 0\n`;
      }
      return ok(out);
    },
    httpGet: async () => ({ ok: true, status: 200, body: 'iptables', durationMs: 1 }),
    tcp: async () => ({ ok: true, ms: 1 }),
    readDir: async () => [],
    timeoutMs: 5_000,
    nowMs: () => Date.now(),
    steady: state.steady,
    clusterGeneration: state.generation,
  };
}

describe('kube-proxy-rules check', () => {
  it('does the full diff while gating, then the cheap capture check in steady state', async () => {
    const check = kubeProxyRulesCheck({
      proxyMode: 'auto',
      iptablesSave: 'auto',
      kubeProxyMetrics: 'http://127.0.0.1:10249/metrics',
    });
    const state = { dump, steady: false, generation: 1, calls: [] as string[] };
    expect(await check.run(ctx(state))).toMatchObject({ status: 'Ok', reason: 'KubeProxyRulesComplete' });
    expect(state.calls).toEqual(['iptables-nft-save']);

    state.steady = true;
    state.calls = [];
    const quick = await check.run(ctx(state));
    expect(quick).toMatchObject({ status: 'Ok', message: expect.stringContaining('quick check') });
    expect(state.calls).toHaveLength(1);
    expect(state.calls[0]).toMatch(
      /^sh -c .* sh iptables-nft nat PREROUTING nat OUTPUT nat KUBE-SERVICES filter KUBE-SERVICES$/s,
    );

    // a ClusterIP rule disappears: the cheap check sees it
    state.dump = dump
      .split('\n')
      .filter((l) => !(l.startsWith('-A KUBE-SERVICES') && l.includes('default/kubernetes')))
      .join('\n');
    expect(await check.run(ctx(state))).toMatchObject({ status: 'Failing', reason: 'KubeProxyRulesMissing' });

    // the expected state moved: back to the full read
    state.dump = dump;
    state.calls = [];
    state.generation = 2;
    await check.run(ctx(state));
    expect(state.calls).toEqual(['iptables-nft-save']);
  });

  it('is Unknown when no iptables-save can run', async () => {
    const check = kubeProxyRulesCheck({
      proxyMode: 'iptables',
      iptablesSave: '/nonexistent/iptables-save',
      kubeProxyMetrics: 'http://x/metrics',
    });
    const c = {
      ...ctx({ dump, steady: false, generation: 1, calls: [] }),
      exec: async () => {
        throw new Error('cannot run /nonexistent/iptables-save: not found');
      },
    };
    expect(await check.run(c)).toMatchObject({ status: 'Unknown', reason: 'IptablesSaveUnavailable' });
  });
});

describe('CAPTURE_SCRIPT', () => {
  it('runs under a real sh: one section per chain with its exit code, names passed as data', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nw-capture-'));
    const fake = join(dir, 'iptables');
    // prints its arguments; fails for the chain MISSING like iptables does
    writeFileSync(
      fake,
      '#!/bin/sh\ncase "$*" in *MISSING*) echo "no chain" >&2; exit 1;; esac\necho "-A $*"\n',
      {
        mode: 0o755,
      },
    );
    const stdout = execFileSync(
      'sh',
      ['-c', CAPTURE_SCRIPT, 'sh', fake, 'nat', 'OUTPUT', 'filter', 'MISSING', 'nat', '$(touch x)'],
      {
        encoding: 'utf8',
      },
    );
    const got = splitCaptureOutput(stdout);
    expect(got.get('nat OUTPUT')).toEqual({ lines: ['-A -w 5 -t nat -S OUTPUT'], exit: 0 });
    expect(got.get('filter MISSING')).toEqual({ lines: [], exit: 1 });
    expect(got.get('nat $(touch x)')).toEqual({ lines: ['-A -w 5 -t nat -S $(touch x)'], exit: 0 });
    rmSync(dir, { recursive: true });
  });
});
