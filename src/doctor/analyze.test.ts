import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hasProblems } from '../core/findings.ts';
import { parseClusterState } from '../netfilter/cluster-state.ts';
import { analyzeNode, nodeNameFromKubeletLog } from './analyze.ts';
import { readBundle } from './bundle.ts';
import { memoryInputs } from './inputs.ts';

const examples = new URL('../../examples/', import.meta.url).pathname;
const cluster = parseClusterState(readFileSync(`${examples}cluster-state.json`, 'utf8')).state;
const codesOf = (findings: readonly { code: string; severity: string }[]) =>
  [...new Set(findings.filter((f) => f.severity !== 'info').map((f) => f.code))].sort();

describe('sample bundles (acceptance)', () => {
  it('healthy-node: no critical or warning finding, with and without cluster state', async () => {
    const inputs = await readBundle(`${examples}healthy-node`);
    expect(inputs.missing).toEqual([]);
    const withState = analyzeNode(inputs, { cluster });
    expect(withState.node).toBe('ip-10-0-81-194.ec2.internal');
    expect(withState.proxyMode).toBe('iptables');
    expect(withState.findings).toEqual([]);
    expect(hasProblems(analyzeNode(inputs).findings)).toBe(false);
  });

  it('rebooted-node-broken: every failure it holds, by code', async () => {
    const inputs = await readBundle(`${examples}rebooted-node-broken`);
    const report = analyzeNode(inputs, { cluster });
    expect(codesOf(report.findings)).toEqual([
      'calico-endpoint-chains-missing',
      'ip-assign-failed',
      'ipamd-errors',
      'ipamd-unreachable',
      'kube-proxy-rules-missing',
      'kube-proxy-unexpected-reject',
      'pod-route-missing',
      'pod-rule-missing',
    ]);
    const missing = report.findings.find(
      (f) => f.code === 'kube-proxy-rules-missing' && f.severity === 'critical',
    );
    expect(missing?.subjects.map((s) => s.name).sort()).toEqual([
      'app/rabbitmq:amqp',
      'app/vault:http',
      'app/web',
    ]);
    expect(report.findings.find((f) => f.code === 'pod-rule-missing')?.subjects.map((s) => s.name)).toEqual([
      'app/vault-0',
      'app/web-7c9d8f6b5-fghij',
    ]);
    // Worst first.
    expect(report.findings[0]?.severity).toBe('critical');
  });

  it('rebooted-node-broken without cluster state still finds the pod and CNI failures', async () => {
    const report = analyzeNode(await readBundle(`${examples}rebooted-node-broken`));
    expect(codesOf(report.findings)).toEqual(
      expect.arrayContaining([
        'pod-rule-missing',
        'pod-route-missing',
        'ipamd-unreachable',
        'calico-endpoint-chains-missing',
      ]),
    );
    expect(report.findings.map((f) => f.code)).toContain('cluster-state-unavailable');
  });

  it('cni-conflict: Calico config first, VPC CNI policy with Calico, SNAT missing', async () => {
    const report = analyzeNode(await readBundle(`${examples}cni-conflict`), { cluster });
    expect(codesOf(report.findings)).toEqual(['aws-snat-rules-missing', 'cni-config-conflict']);
    expect(report.findings.filter((f) => f.code === 'cni-config-conflict').map((f) => f.severity)).toEqual([
      'critical',
      'warning',
    ]);
  });

  it('backend-mismatch.tar.gz (archive with a root folder): kube-proxy in legacy, host in nft', async () => {
    const inputs = await readBundle(`${examples}backend-mismatch.tar.gz`);
    expect(inputs.found).toContain('networking/iptables-legacy-save.txt');
    const report = analyzeNode(inputs, { cluster });
    expect(codesOf(report.findings)).toEqual(['iptables-backend-mismatch']);
  });
});

describe('variations not in the samples', () => {
  async function healthyWith(change: (files: Map<string, string>) => void) {
    const inputs = await readBundle(`${examples}healthy-node`);
    const files = new Map(inputs.found.map((n) => [n, inputs.get(n) as string]));
    change(files);
    return analyzeNode(memoryInputs('test', files), { cluster });
  }

  it('kube-proxy hooks flushed (e.g. by a firewall service)', async () => {
    const r = await healthyWith((f) => {
      const save = f.get('networking/iptables-save.txt') as string;
      f.set(
        'networking/iptables-save.txt',
        save.replace(
          /^-A (PREROUTING|OUTPUT) -m comment --comment "kubernetes service portals" -j KUBE-SERVICES\n/gm,
          '',
        ),
      );
    });
    expect(codesOf(r.findings)).toEqual(['kube-proxy-jump-missing']);
  });

  it('no CNI config at all, and a truncated iptables dump', async () => {
    const r = await healthyWith((f) => {
      f.delete('cni/10-aws.conflist');
      f.delete('cni/aws-cni-support.sh');
      const save = f.get('networking/iptables-save.txt') as string;
      f.set('networking/iptables-save.txt', save.slice(0, Math.floor(save.length * 0.6)));
    });
    const codes = r.findings.map((f) => f.code);
    expect(codes).toContain('input-parse-warnings');
    expect(codes).toContain('kube-proxy-rules-missing');
    expect(r.inputs.missing).toContain('cni/ (CNI config directory)');
  });

  it('kube-proxy metrics and healthz say it never synced; nftables mode inferred', async () => {
    const r = await healthyWith((f) => {
      f.set(
        'kube-proxy/metrics.txt',
        'kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family="IPv4"} 0\n',
      );
      f.set(
        'kube-proxy/healthz.json',
        '{"lastUpdated":"2026-11-27T06:05:00Z","currentTime":"2026-11-27T06:05:00Z","nodeEligible":true,"healthy":false,"status":{"IPv4":{"lastUpdated":"2026-11-27T06:00:00Z","healthy":false}}}',
      );
    });
    expect(codesOf(r.findings)).toEqual(['kube-proxy-not-synced']);
  });

  it('wrong files in place of the dumps are reported, not fatal', async () => {
    const r = await healthyWith((f) => {
      f.set('networking/iptables-save.txt', 'root:x:0:0:root:/root:/bin/bash\n');
      f.set('networking/iprule.txt', '<html>404</html>\n');
      f.set('ipamd/enis.json', '404 page not found');
    });
    expect(r.findings.find((x) => x.code === 'input-parse-warnings')?.evidence.join('\n')).toMatch(
      /not iptables-save output/,
    );
  });
});

describe('node name', () => {
  it('comes from kubelet registration lines', () => {
    expect(
      nodeNameFromKubeletLog(
        'kubelet[1]: I0101 "Successfully registered node" node="ip-1-2-3-4.ec2.internal"',
      ),
    ).toBe('ip-1-2-3-4.ec2.internal');
    expect(nodeNameFromKubeletLog('nothing')).toBeUndefined();
  });
});

describe('nodes netwarden does not judge by kube-proxy rules (never a problem by themselves)', () => {
  async function healthyFiles(): Promise<Map<string, string>> {
    const inputs = await readBundle(`${examples}healthy-node`);
    return new Map(inputs.found.map((n) => [n, inputs.get(n) as string]));
  }
  /** The dump with every KUBE-* chain and rule removed: a node without kube-proxy. */
  const withoutKubeProxy = (save: string): string =>
    save
      .split('\n')
      .filter((l) => !/KUBE-|kubernetes service portals/.test(l))
      .join('\n');

  it('an IPVS-mode node: kube-proxy not applicable, reported as info, nothing missing', async () => {
    const files = await healthyFiles();
    const save = withoutKubeProxy(files.get('networking/iptables-save.txt') as string).replace(
      '*nat\n',
      [
        '*nat',
        ':KUBE-SERVICES - [0:0]',
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ',
        '',
      ].join('\n'),
    );
    files.set('networking/iptables-save.txt', save);
    const r = analyzeNode(memoryInputs('test', files), { cluster });
    expect(r.verdicts.kubeProxy).toMatchObject({
      status: 'not-applicable',
      reason: 'KubeProxyModeNotModelled',
    });
    expect(r.proxyMode).toBe('ipvs');
    expect(r.findings.filter((f) => f.code.startsWith('kube-proxy') && f.severity !== 'info')).toEqual([]);
    expect(r.findings.map((f) => f.code)).toContain('kube-proxy-mode-not-modelled');
  });

  it('a node of a cluster without kube-proxy: not applicable; with a kube-proxy pod on the node: critical', async () => {
    const files = await healthyFiles();
    files.set(
      'networking/iptables-save.txt',
      withoutKubeProxy(files.get('networking/iptables-save.txt') as string),
    );
    const absent = analyzeNode(memoryInputs('test', files), { cluster });
    expect(absent.verdicts.kubeProxy).toMatchObject({ status: 'not-applicable', reason: 'KubeProxyAbsent' });
    expect(hasProblems(absent.findings)).toBe(false);

    const kubeProxyPod = {
      kind: 'Pod',
      metadata: { namespace: 'kube-system', name: 'kube-proxy-abcde', labels: { 'k8s-app': 'kube-proxy' } },
      spec: {
        nodeName: 'ip-10-0-81-194.ec2.internal',
        hostNetwork: true,
        containers: [{ name: 'kube-proxy' }],
      },
      status: { phase: 'Running' },
    };
    const expected = analyzeNode(memoryInputs('test', files), {
      cluster: { ...cluster, pods: [...cluster.pods, kubeProxyPod] },
    });
    expect(expected.verdicts.kubeProxy).toMatchObject({ status: 'broken', reason: 'KubeProxyRulesMissing' });
    expect(expected.findings.find((f) => f.code === 'kube-proxy-rules-missing')?.severity).toBe('critical');

    // Without any cluster view: it cannot be told, so it is a warning (not judged), not critical.
    const blind = analyzeNode(memoryInputs('test', files));
    expect(blind.verdicts.kubeProxy).toMatchObject({ status: 'unknown', reason: 'KubeProxyPresenceUnknown' });
    expect(
      blind.findings.filter((f) => f.severity === 'critical' && f.code.startsWith('kube-proxy')),
    ).toEqual([]);
  });
  it("the CNI daemon's readiness answer (--live --cni-health-url) joins the CNI judgement as in the agent", async () => {
    const files = await healthyFiles();
    const withHealth = (doc: object) =>
      analyzeNode(
        memoryInputs('test', new Map([...files, ['netwarden/cni-health.json', JSON.stringify(doc)]])),
        {
          cluster,
        },
      ).verdicts.cni;
    const url = 'http://127.0.0.1:61678/healthz';
    expect(withHealth({ url, status: 503, body: 'not ready\n' })).toMatchObject({
      status: 'broken',
      reason: 'CniDaemonNotReady',
      message: `CNI daemon ${url}: HTTP 503: not ready`,
    });
    expect(withHealth({ url, error: 'connect ECONNREFUSED 127.0.0.1:61678' })).toMatchObject({
      status: 'broken',
      reason: 'CniDaemonNotReady',
    });
    expect(withHealth({ url, error: 'socket hang up' })).toMatchObject({ status: 'unknown' });
    expect(withHealth({ url, status: 200, body: 'ok' })?.status).toBe(
      analyzeNode(memoryInputs('test', files), { cluster }).verdicts.cni?.status,
    );
  });
  it("judges a node's pods as the agent does: the VPC CNI's eni veth naming only where its config is selected", () => {
    const pod = {
      kind: 'Pod',
      metadata: { namespace: 'default', name: 'web' },
      spec: { nodeName: 'node-2', containers: [{ name: 'c' }] },
      status: { phase: 'Running', podIP: '10.244.1.5' },
    };
    const ptp = JSON.stringify({ cniVersion: '1.0.0', name: 'lab', plugins: [{ type: 'ptp' }] });
    const aws = JSON.stringify({
      cniVersion: '0.4.0',
      name: 'aws-cni',
      plugins: [{ type: 'aws-cni', vethPrefix: 'eni' }],
    });
    const files = (conf: [string, string]) =>
      new Map([
        conf,
        [
          'networking/ip-route.json',
          JSON.stringify([{ dst: '10.244.1.5', dev: 'veth1a2b', scope: 'link', table: 'main' }]),
        ],
        [
          'networking/ip-rule.json',
          JSON.stringify([{ priority: 512, src: 'all', dst: '10.244.1.5', table: 'main' }]),
        ],
      ]);
    const podCodes = (conf: [string, string]) =>
      analyzeNode(memoryInputs('live', files(conf), [], true), {
        cluster: { services: [], endpointSlices: [], pods: [pod] },
        nodeName: 'node-2',
      })
        .findings.filter((f) => f.code.startsWith('pod-'))
        .map((f) => `${f.code}/${f.severity}`);
    // Another CNI's veths are not named eni*: nothing to report about their naming (the agent's rule).
    expect(podCodes(['cni/10-lab.conflist', ptp])).not.toContain('pod-route-missing/critical');
    // The VPC CNI selected: its pods' routes must go through eni* veths.
    expect(podCodes(['cni/10-aws.conflist', aws])).toContain('pod-route-missing/critical');
  });
});
