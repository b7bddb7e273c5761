/**
 * The field cases (docs/field-cases.md) through the one judgement of their question: each case's
 * finding appears on the evidence its public report quotes (src/sources/fixtures/field-cases/) or on
 * outputs recorded with the same rules in private namespaces (src/netfilter/fixtures/field/), and a
 * fixed release or healthy variant of the same evidence does not produce it. Table-driven.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Finding } from '../core/findings.ts';
import type { Pod } from '../core/objects.ts';
import { readOk } from '../core/read.ts';
import { parseKernelVersion } from '../core/versions.ts';
import { parseConntrack } from '../netfilter/conntrack.ts';
import { expectedServicePorts } from '../netfilter/expected.ts';
import { parseIpRuleText } from '../netfilter/ip.ts';
import { type IptablesNodeState, readIptablesState } from '../netfilter/iptables-state.ts';
import { kubeProxyNftState, parseNftJson } from '../netfilter/nft.ts';
import { smallCluster } from '../netfilter/testing.ts';
import { readCniConfigDir } from '../sources/cni-config.ts';
import { readComponentVersions } from '../sources/components.ts';
import { readFelixIptablesLog } from '../sources/felix-log.ts';
import { parseSandboxFailures } from '../sources/kubelet-log.ts';
import { parseVpcCniLog } from '../sources/vpc-cni-logs.ts';
import { assessCni, type CniEvidence } from './cni.ts';
import type { CniFieldEvidence } from './field-cases.ts';
import { hostBackend } from './field-facts.ts';
import { fieldLogFindings } from './field-logs.ts';
import type { IptablesDumps } from './iptables-backends.ts';
import { assessKubeProxy, type KubeProxyEvidence } from './kube-proxy.ts';

const text = (rel: string): string => readFileSync(new URL(rel, import.meta.url), 'utf8');
const quoted = (code: string, file: string): string =>
  text(`../sources/fixtures/field-cases/${code}/${file}`);
const recorded = (file: string): string => text(`../netfilter/fixtures/field/${file}`);
const kubeProxyDump = (file: string): IptablesNodeState =>
  readIptablesState(text(`../netfilter/fixtures/${file}`));

const NODE = 'node-a';
const ECR = '602401143452.dkr.ecr.us-west-2.amazonaws.com';

/** A component pod bound to node-a, as `kubectl get pods -o json` prints the fields the reader uses. */
function componentPod(
  name: string,
  container: { name: string; image: string; env?: Record<string, string>; args?: string[] },
  ready?: boolean,
): Pod {
  return {
    kind: 'Pod',
    metadata: { namespace: 'kube-system', name },
    spec: {
      nodeName: NODE,
      hostNetwork: true,
      containers: [
        {
          name: container.name,
          image: container.image,
          ...(container.args ? { args: container.args } : {}),
          env: Object.entries(container.env ?? {}).map(([n, value]) => ({ name: n, value })),
        },
      ],
    },
    ...(ready !== undefined
      ? { status: { containerStatuses: [{ name: container.name, ready, restartCount: 2 }] } }
      : {}),
  } as Pod;
}
const awsNode = (
  tag: string,
  env: Record<string, string> = {},
  ready?: boolean,
  repo = `${ECR}/amazon-k8s-cni`,
) => componentPod('aws-node-x7k2q', { name: 'aws-node', image: `${repo}:${tag}`, env }, ready);
const kubeProxy = (tag: string, mode?: string) =>
  componentPod('kube-proxy-4f9s2', {
    name: 'kube-proxy',
    image: `${ECR}/eks/kube-proxy:${tag}`,
    args: ['--v=2', ...(mode ? [`--proxy-mode=${mode}`] : [])],
  });
const calicoNode = (tag: string, env: Record<string, string> = {}, ready?: boolean) =>
  componentPod('calico-node-abcde', { name: 'calico-node', image: `quay.io/calico/node:${tag}`, env }, ready);
const components = (...pods: Pod[]) => readComponentVersions({ pods }, { nodeName: NODE });

const dumps = (d: Partial<IptablesDumps>): IptablesDumps => ({
  dflt: d.dflt,
  nft: d.nft,
  legacy: d.legacy,
});
const AWS_CONF = JSON.stringify({
  cniVersion: '0.4.0',
  name: 'aws-cni',
  plugins: [{ name: 'aws-cni', type: 'aws-cni', vethPrefix: 'eni' }, { type: 'portmap' }],
});
const PTP_CONF = JSON.stringify({ name: 'lab', cniVersion: '1.0.0', plugins: [{ type: 'ptp' }] });

/** The CNI judgement of a VPC CNI node (config, ipamd answering) with the field evidence given. */
function cni(field: CniFieldEvidence, over: Partial<CniEvidence> = {}) {
  return assessCni({
    confDir: readOk(readCniConfigDir([{ name: '10-aws.conflist', content: AWS_CONF }]), 'cni'),
    confDirPath: '/etc/cni/net.d',
    ipamd: readOk({ status: 200 }, 'http://127.0.0.1:61679/v1/enis'),
    ...over,
    field,
  });
}

const codes = (fs: readonly Finding[], code: string): string[] =>
  fs.filter((f) => f.code === code).map((f) => `${f.severity}: ${f.title}`);

// ─── 1. kube-proxy in nftables mode, the VPC CNI's iptables connmark ──────────────────────────
describe('kube-proxy-nftables-vpc-cni-connmark (amazon-vpc-cni-k8s#3563)', () => {
  const code = 'kube-proxy-nftables-vpc-cni-connmark';
  const connmark = readIptablesState(recorded('nft-save-aws-connmark.txt'));
  const nftMode = { mode: 'nftables', source: 'table ip kube-proxy exists' };
  const secondary = parseIpRuleText(
    '1536:\tfrom 10.0.87.206 lookup 2\n512:\tfrom all to 10.0.87.206 lookup main\n',
  ).items;
  it.each<[string, CniFieldEvidence, RegExp | undefined]>([
    [
      'aws-node v1.22.3 with kube-proxy nftables',
      { components: components(awsNode('v1.22.3-eksbuild.1')), kubeProxyMode: nftMode },
      /^warning: The VPC CNI before v1\.23\.0/,
    ],
    [
      'aws-node pinned by digest',
      { components: components(awsNode('x@sha256:4f1e')), kubeProxyMode: nftMode },
      /^warning: Possible: /,
    ],
    [
      'aws-node v1.23.0 (fixed)',
      { components: components(awsNode('v1.23.0')), kubeProxyMode: nftMode },
      undefined,
    ],
    [
      'kube-proxy in iptables mode',
      { components: components(awsNode('v1.22.3')), kubeProxyMode: { mode: 'iptables', source: 'x' } },
      undefined,
    ],
    [
      'the kernel holds the connmark jump and a pod sits on a secondary ENI',
      {
        dumps: dumps({ nft: connmark }),
        kubeProxyMode: nftMode,
        ipRules: secondary,
        kubernetesClusterIp: '172.20.0.1',
      },
      /^warning: kube-proxy runs in nftables mode while the VPC CNI marks connections/,
    ],
    [
      'the Service CIDR is in AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS (a RETURN covers the kubernetes ClusterIP)',
      { dumps: dumps({ nft: connmark }), kubeProxyMode: nftMode, kubernetesClusterIp: '10.0.0.1' },
      undefined,
    ],
    [
      'VPC CNI v1.23 restores the mark in its own nftables table',
      {
        components: components(awsNode('v1.22.3')),
        kubeProxyMode: nftMode,
        nftTables: new Set(['ip aws-cni', 'ip kube-proxy']),
      },
      undefined,
    ],
  ])('%s', (_n, field, want) => {
    const a = cni(field);
    const found = codes(a.findings, code);
    if (want) expect(found).toEqual([expect.stringMatching(want)]);
    else expect(found).toEqual([]);
    // A dump cannot show which base chain runs first: never a hold.
    expect(a.status).toBe('ok');
  });

  it('names the jump rule, the RETURN CIDRs and the secondary-ENI pods', () => {
    const f = cni({
      dumps: dumps({ nft: connmark }),
      kubeProxyMode: nftMode,
      ipRules: secondary,
    }).findings.find((x) => x.code === code);
    expect(f?.evidence).toEqual(
      expect.arrayContaining([
        'iptables-nft: -A PREROUTING -i eni+ -m comment --comment "AWS, outbound connections" -j AWS-CONNMARK-CHAIN-0',
        'AWS-CONNMARK-CHAIN-0 leaves alone: 10.0.0.0/16',
        '1 pod address(es) on secondary ENIs: 1536:\tfrom 10.0.87.206 lookup 2',
      ]),
    );
  });
});

// ─── 2. VPC CNI v1.23's nft connmark restore clears Calico eBPF's mark ────────────────────────
describe('vpc-cni-nft-connmark-clears-marks (amazon-vpc-cni-k8s#3872)', () => {
  const code = 'vpc-cni-nft-connmark-clears-marks';
  // The iptables form of Calico's eBPF drop (calico#8867), as iptables-save prints that rule.
  const bpfDrop = readIptablesState(
    '*filter\n:FORWARD ACCEPT [0:0]\n[159:9648] -A FORWARD -m comment --comment "cali:NnQ109Z-tVFkJGc1" -m comment --comment "From workload without BPF seen mark" -m mark ! --mark 0x1000000/0x1000000 -j DROP\nCOMMIT\n',
  );
  expect(quoted(code, 'iptables-L-calico-ebpf-8867.txt')).toContain('From workload without BPF seen mark');
  it.each<[string, CniFieldEvidence, RegExp | undefined]>([
    [
      'v1.23.0 with Calico eBPF (FELIX_BPFENABLED=true)',
      { components: components(awsNode('v1.23.0'), calicoNode('v3.29.0', { FELIX_BPFENABLED: 'true' })) },
      /^warning: the VPC CNI's nftables connmark restore/,
    ],
    [
      "v1.23.0 and Calico's eBPF drop in the kernel",
      { components: components(awsNode('v1.23.0')), dumps: dumps({ nft: bpfDrop }) },
      /^warning: the VPC CNI's/,
    ],
    [
      'v1.23.0 beside Calico whose data plane is unknown',
      { components: components(awsNode('v1.23.0'), calicoNode('v3.29.0')) },
      /^info: Possible: /,
    ],
    [
      'v1.22.4 with Calico eBPF (the release reported good)',
      { components: components(awsNode('v1.22.4'), calicoNode('v3.29.0', { FELIX_BPFENABLED: 'true' })) },
      undefined,
    ],
    ['v1.23.0 without Calico', { components: components(awsNode('v1.23.0')) }, undefined],
  ])('%s', (_n, field, want) => {
    const a = cni(field);
    const found = codes(a.findings, code);
    if (want) expect(found).toEqual([expect.stringMatching(want)]);
    else expect(found).toEqual([]);
    expect(a.status).toBe('ok');
  });
});

// ─── 3. the VPC CNI's rules in iptables-legacy ────────────────────────────────────────────────
describe('vpc-cni-rules-in-legacy-backend (amazon-vpc-cni-k8s#2103, #1847, #3800)', () => {
  const code = 'vpc-cni-rules-in-legacy-backend';
  const nftHost = kubeProxyDump('kube-proxy-1.36-iptables-small.txt');
  const legacyAws = readIptablesState(
    '# Generated by iptables-save v1.8.9 on Wed Dec  2 10:17:18 2026\n*nat\n:POSTROUTING ACCEPT [0:0]\n:AWS-SNAT-CHAIN-0 - [0:0]\n-A POSTROUTING -m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-0\nCOMMIT\n',
  );
  const nftAws = readIptablesState(recorded('nft-save-aws-connmark.txt'));
  it.each<[string, CniFieldEvidence, string[]]>([
    [
      'aws-node v1.11.4 on an iptables-nft host',
      { components: components(awsNode('v1.11.4')), dumps: dumps({ nft: nftHost }) },
      ['warning: aws-node before v1.12.1 ships iptables-legacy only'],
    ],
    [
      'aws-node v1.12.5 without ENABLE_NFTABLES',
      { components: components(awsNode('v1.12.5')), dumps: dumps({ nft: nftHost }) },
      ['warning: aws-node v1.12.1–v1.13.1'],
    ],
    [
      'aws-node v1.12.5 with ENABLE_NFTABLES=true',
      {
        components: components(awsNode('v1.12.5', { ENABLE_NFTABLES: 'true' })),
        dumps: dumps({ nft: nftHost }),
      },
      [],
    ],
    [
      'aws-node v1.13.2 (automatic)',
      { components: components(awsNode('v1.13.2')), dumps: dumps({ nft: nftHost }) },
      [],
    ],
    [
      'aws-node v1.11.4 on an iptables-legacy host',
      {
        components: components(awsNode('v1.11.4')),
        dumps: dumps({
          legacy: readIptablesState(
            `# Generated by iptables-save v1.8.4 on x\n${text(
              '../netfilter/fixtures/kube-proxy-1.36-iptables-legacy-example.txt',
            )
              .split('\n')
              .filter((l) => !l.startsWith('#'))
              .join('\n')}`,
          ),
        }),
      },
      [],
    ],
    [
      'its rules in both backends',
      { dumps: dumps({ nft: nftAws, legacy: legacyAws }) },
      ["warning: The VPC CNI's rules are in both iptables backends"],
    ],
    [
      'an image built by others',
      {
        components: components(awsNode('v1.20.0', {}, undefined, 'cgr.dev/chainguard/amazon-k8s-cni')),
        dumps: dumps({ nft: nftHost }),
      },
      ["info: aws-node's image is not Amazon's"],
    ],
  ])('%s', (_n, field, want) => {
    const a = cni(field);
    expect(codes(a.findings, code).map((t) => t.slice(0, want[0]?.length ?? 0))).toEqual(want);
    expect(a.status).toBe('ok');
  });

  it("ipamd's legacy iptables on an nft-only host: critical while the node has no VPC CNI rule, else a warning", () => {
    const log = {
      log: parseVpcCniLog(quoted(code, 'ipamd-log-legacy-on-nft-host-1847.jsonl')),
      path: 'ipamd.log',
    };
    const bare = readIptablesState(recorded('nft-save-forward-drop-kube-forward.txt'));
    const host = { backend: 'nft' as const, evidence: ['only iptables-nft holds tables'] };
    const sev = (d: IptablesDumps) =>
      fieldLogFindings({ ipamd: log, dumps: d, host }).map((f) => `${f.severity} ${f.code}`);
    expect(sev(dumps({ nft: bare }))).toEqual([`critical ${code}`]);
    expect(sev(dumps({ nft: nftAws }))).toEqual([`warning ${code}`]);
    expect(
      fieldLogFindings({
        ipamd: log,
        dumps: dumps({ nft: bare }),
        host: { backend: 'legacy', evidence: [] },
      }),
    ).toEqual([]);
  });
});

// ─── 4. Felix's backend autodetection ─────────────────────────────────────────────────────────
describe('calico-iptables-backend-autodetect (projectcalico/calico#3709, #5760, #8243)', () => {
  const code = 'calico-iptables-backend-autodetect';
  const nftHost = kubeProxyDump('kube-proxy-1.36-iptables-small.txt');
  const env = (v?: string) => (v ? { FELIX_IPTABLESBACKEND: v } : {});
  it.each<[string, CniFieldEvidence, RegExp | undefined]>([
    // calico#2322 quotes FELIX_IPTABLESBACKEND: auto; #8243 runs calico/node v3.24.6.
    [
      'v3.24.6 with FELIX_IPTABLESBACKEND=auto on an nft host',
      { components: components(calicoNode('v3.24.6', env('auto'))), dumps: dumps({ nft: nftHost }) },
      /^warning: Felix detects the iptables backend itself/,
    ],
    [
      'v3.24.6, unset, on an nft host',
      { components: components(calicoNode('v3.24.6')), dumps: dumps({ nft: nftHost }) },
      /^warning: Felix detects/,
    ],
    [
      'v3.26.0 (the fix)',
      { components: components(calicoNode('v3.26.0', env('auto'))), dumps: dumps({ nft: nftHost }) },
      undefined,
    ],
    [
      'v3.24.6 set to NFT explicitly',
      { components: components(calicoNode('v3.24.6', env('NFT'))), dumps: dumps({ nft: nftHost }) },
      undefined,
    ],
    [
      'Legacy set on an nft host',
      { components: components(calicoNode('v3.27.0', env('Legacy'))), dumps: dumps({ nft: nftHost }) },
      /^warning: Felix is set to write iptables-legacy on a host that uses iptables-nft/,
    ],
    [
      'version unknown, auto, only nft tables',
      { components: components(calicoNode('latest', env('auto'))), dumps: dumps({ nft: nftHost }) },
      undefined,
    ],
  ])('%s', (_n, field, want) => {
    const found = codes(cni(field).findings, code);
    if (want) expect(found).toEqual([expect.stringMatching(want)]);
    else expect(found).toEqual([]);
  });

  it.each([
    ['felix-log-backend-legacy-4958.txt', ['warning calico-iptables-backend-autodetect']],
    ['felix-log-backend-nft-9193.txt', []],
  ])("Felix's log %s on an nft host", (file, want) => {
    const felix = { log: readFelixIptablesLog(quoted(code, file)), path: 'var_log/calico-node.log' };
    const d = dumps({ nft: nftHost });
    expect(
      fieldLogFindings({ felix, dumps: d, host: hostBackend(d) }).map((f) => `${f.severity} ${f.code}`),
    ).toEqual(want);
  });
});

// ─── 5. kube-proxy's first-sync race ──────────────────────────────────────────────────────────
describe('kube-proxy-first-sync-race (kubernetes#126468)', () => {
  const code = 'kube-proxy-first-sync-race';
  const cluster = smallCluster(NODE);
  const rules = kubeProxyDump('kube-proxy-1.36-iptables-small.txt');
  const judge = (ev: Partial<KubeProxyEvidence>) =>
    assessKubeProxy(
      { iptablesNft: readOk(rules, 'iptables-nft-save'), ...ev },
      {
        expected: expectedServicePorts(cluster, { nodeName: NODE }),
        expectation: { expected: 'yes', evidence: 'kube-proxy pod bound here' },
        nowSeconds: Date.parse('2026-12-02T10:30:00Z') / 1000,
      },
    );
  const flows = (t: string) => readOk(parseConntrack(t), 'networking/conntrack-udp.txt');

  it("a UDP flow to kube-dns's ClusterIP that was never NATed while kube-proxy programs it: critical", () => {
    const a = judge({ conntrackUdp: flows(recorded('conntrack-udp.txt')) });
    expect(a.status).toBe('broken');
    expect(a.reason).toBe('KubeProxyFirstSyncRace');
    const f = a.findings.find((x) => x.code === code);
    expect(f?.severity).toBe('critical');
    expect(f?.evidence).toContain(
      'udp      17 29 src=192.0.2.10 dst=10.96.0.10 sport=49602 dport=53 [UNREPLIED] src=10.96.0.10 dst=192.0.2.10 sport=53 dport=49602 mark=0 use=1',
    );
  });

  it('a flow that was NATed, or to an address kube-proxy does not program, is not', () => {
    const natted = recorded('conntrack-udp.txt')
      .split('\n')
      .filter((l) => l.includes('198.51.100.10'))
      .join('\n');
    expect(judge({ conntrackUdp: flows(natted) }).findings.filter((f) => f.code === code)).toEqual([]);
    // The recorded NATed flow, as it reads when its ClusterIP is kube-dns's (the reply is the endpoint's).
    const nattedDns = natted.replace('dst=10.96.0.99', 'dst=10.96.0.10');
    expect(judge({ conntrackUdp: flows(nattedDns) }).findings.filter((f) => f.code === code)).toEqual([]);
    // kubernetes#126468's own flow: 192.168.0.10 is not a ClusterIP of this cluster.
    const theirs = flows(quoted(code, 'conntrack-unreplied-126468.txt'));
    expect(judge({ conntrackUdp: theirs }).status).toBe('ok');
  });

  it.each([
    ['v1.30.4-eksbuild.3', ['info']],
    ['v1.29.3-minimal-eksbuild.2', ['info']],
    ['v1.30.5-eksbuild.2', []],
    ['v1.36.5', []],
  ])('kube-proxy %s: the release alone is at most an info', (tag, want) => {
    const a = judge({ components: components(kubeProxy(tag)) });
    expect(a.findings.filter((f) => f.code === code).map((f) => f.severity)).toEqual(want);
    expect(a.status).toBe('ok');
  });
});

// ─── 6. a CNI config that survived the reboot while its daemon is down ────────────────────────
describe('cni-config-without-daemon (cilium#27715, multus-cni#1387)', () => {
  const code = 'cni-config-without-daemon';
  const boot = Date.parse('2026-11-27T06:14:55Z');
  const before = new Map([['10-aws.conflist', Date.parse('2026-11-27T06:02:11Z')]]);
  const after = new Map([['10-aws.conflist', Date.parse('2026-11-27T06:15:30Z')]]);
  it.each<[string, CniFieldEvidence, boolean]>([
    [
      'written before the boot, aws-node not ready, pods sandboxed since',
      {
        configTimes: before,
        bootMs: boot,
        components: components(awsNode('v1.19.2', {}, false)),
        podsThisBoot: ['app/web-1'],
      },
      true,
    ],
    [
      'written before the boot, pods unknown',
      { configTimes: before, bootMs: boot, components: components(awsNode('v1.19.2', {}, false)) },
      true,
    ],
    [
      'written before the boot, aws-node ready',
      { configTimes: before, bootMs: boot, components: components(awsNode('v1.19.2', {}, true)) },
      false,
    ],
    [
      'written after the boot (the daemon wrote it)',
      { configTimes: after, bootMs: boot, components: components(awsNode('v1.19.2', {}, false)) },
      false,
    ],
    [
      'no pod sandboxed on this boot',
      {
        configTimes: before,
        bootMs: boot,
        components: components(awsNode('v1.19.2', {}, false)),
        podsThisBoot: [],
      },
      false,
    ],
  ])('%s', (_n, field, want) => {
    const found = codes(cni(field).findings, code);
    expect(found.map((t) => t.split(':')[0])).toEqual(want ? ['warning'] : []);
  });

  it('ipamd refusing connections is the daemon not ready', () => {
    const a = cni(
      { configTimes: before, bootMs: boot },
      { ipamd: { status: 'absent', source: 'http://127.0.0.1:61679/v1/enis', detail: 'connection refused' } },
    );
    expect(a.reason).toBe('IpamdUnreachable');
    expect(a.findings.find((f) => f.code === code)?.evidence).toContain(
      'http://127.0.0.1:61679/v1/enis: connection refused',
    );
  });
});

// ─── 7. FORWARD DROP restored at boot ─────────────────────────────────────────────────────────
describe('forward-policy-drop (awslabs/amazon-eks-ami#526)', () => {
  const code = 'forward-policy-drop';
  const nftDrop = readIptablesState(recorded('nft-save-forward-drop-kube-forward.txt'));
  const legacyDrop = readIptablesState(recorded('legacy-save-forward-drop.txt'));
  const nftAccept = readIptablesState(recorded('nft-save-beside-legacy.txt'));
  const withRule = (rule: string, policy = '[0:0]') =>
    readIptablesState(
      `*filter\n:FORWARD DROP ${policy}\n:KUBE-FORWARD - [0:0]\n-A FORWARD -j KUBE-FORWARD\n${rule}\nCOMMIT\n`,
    );
  const routed = { yes: true, evidence: 'the VPC CNI routes every pod through the node' };
  it.each<[string, CniFieldEvidence, string, string[]]>([
    [
      "kube-proxy's KUBE-FORWARD under FORWARD DROP (nft)",
      { dumps: dumps({ nft: nftDrop }), podsForwarded: routed, vethPrefix: 'eni' },
      'broken',
      ['critical'],
    ],
    [
      'a legacy FORWARD DROP beside an nft ACCEPT (lab A.4)',
      { dumps: dumps({ nft: nftAccept, legacy: legacyDrop }), podsForwarded: routed, vethPrefix: 'eni' },
      'broken',
      ['critical'],
    ],
    [
      'no routed pod on the node',
      {
        dumps: dumps({ nft: nftDrop }),
        podsForwarded: { yes: false, evidence: 'no routed pod' },
        vethPrefix: null,
      },
      'ok',
      ['warning'],
    ],
    [
      'DROP with an ACCEPT for the pod veths, nothing dropped',
      {
        dumps: dumps({ nft: withRule('-A FORWARD -i eni+ -j ACCEPT') }),
        podsForwarded: routed,
        vethPrefix: 'eni',
      },
      'ok',
      [],
    ],
    [
      'DROP with an ACCEPT for the pod veths, packets dropped',
      {
        dumps: dumps({ nft: withRule('-A FORWARD -i eni+ -j ACCEPT', '[3:188]') }),
        podsForwarded: routed,
        vethPrefix: 'eni',
      },
      'ok',
      ['warning'],
    ],
    [
      "DROP with Docker's ACCEPT only (rke#485), VPC CNI veths",
      {
        dumps: dumps({ nft: withRule('-A FORWARD -i docker0 ! -o docker0 -j ACCEPT') }),
        podsForwarded: routed,
        vethPrefix: 'eni',
      },
      'broken',
      ['critical'],
    ],
    [
      "DROP with Docker's ACCEPT, veth naming unknown",
      {
        dumps: dumps({ nft: withRule('-A FORWARD -i docker0 ! -o docker0 -j ACCEPT') }),
        podsForwarded: routed,
        vethPrefix: null,
      },
      'ok',
      [],
    ],
    [
      "DROP with Calico's cali-FORWARD (rke#485)",
      {
        dumps: dumps({
          nft: readIptablesState(
            '*filter\n:FORWARD DROP [3:188]\n:cali-FORWARD - [0:0]\n-A FORWARD -m comment --comment "cali:wUHhoiAYhphO9Mso" -j cali-FORWARD\nCOMMIT\n',
          ),
        }),
        podsForwarded: routed,
        vethPrefix: 'eni',
      },
      'ok',
      ['info'],
    ],
    [
      'FORWARD ACCEPT',
      { dumps: dumps({ nft: nftAccept }), podsForwarded: routed, vethPrefix: 'eni' },
      'ok',
      [],
    ],
  ])('%s', (_n, field, status, want) => {
    const a = cni(field);
    expect(a.findings.filter((f) => f.code === code).map((f) => f.severity)).toEqual(want);
    expect(a.status).toBe(status);
    if (status === 'broken') expect(a.reason).toBe('ForwardPolicyDrop');
  });

  it('names the backend, the policy counter and the FORWARD rules', () => {
    const f = cni({
      dumps: dumps({ nft: nftAccept, legacy: legacyDrop }),
      podsForwarded: routed,
      vethPrefix: 'eni',
    }).findings.find((x) => x.code === code);
    expect(f?.title).toContain('iptables-legacy');
    expect(f?.evidence.slice(0, 2)).toEqual([
      'filter FORWARD policy DROP [3:180] (iptables-legacy)',
      'no rules in filter FORWARD',
    ]);
  });
});

// ─── 9. a table iptables cannot print ─────────────────────────────────────────────────────────
describe('iptables-table-incompatible (projectcalico/calico#8403, #8025)', () => {
  const code = 'iptables-table-incompatible';
  const incompatible = readIptablesState(recorded('nft-save-filter-incompatible.txt'));
  const natIncompatible = readIptablesState("# Table `nat' is incompatible, use 'nft' tool.\n");
  const ctx = {
    expectation: { expected: 'yes' as const, evidence: 'kube-proxy pod bound here' },
    nowSeconds: 0,
  };

  it('a dump naming an incompatible table is a warning', () => {
    const a = assessKubeProxy({ iptablesNft: readOk(incompatible, 'iptables-nft-save') }, ctx);
    expect(codes(a.findings, code)).toEqual([
      expect.stringMatching(/^warning: iptables-nft could not print table\(s\) filter/),
    ]);
  });

  it("kube-proxy's table that cannot be printed leaves kube-proxy unjudged, never missing", () => {
    const a = assessKubeProxy({ iptablesNft: readOk(natIncompatible, 'iptables-nft-save') }, ctx);
    expect(a.status).toBe('unknown');
    expect(a.reason).toBe('IptablesTableIncompatible');
    expect(a.findings.filter((f) => f.severity === 'critical')).toEqual([]);
  });

  it.each([
    ['felix-log-incompatible-raw-8403.txt', true, 'critical'],
    ['felix-log-incompatible-raw-8403.txt', false, 'warning'],
    ['felix-log-kube-proxy-nftables-8025.txt', true, 'critical'],
  ])("Felix's log %s (dump also incompatible: %s) → %s", (file, dumpToo, want) => {
    const felix = { log: readFelixIptablesLog(quoted(code, file)), path: 'var_log/calico-node.log' };
    const d = dumps({
      nft: dumpToo ? incompatible : readIptablesState(recorded('nft-save-beside-legacy.txt')),
    });
    expect(
      fieldLogFindings({ felix, dumps: d, host: hostBackend(d) }).map((f) => `${f.severity} ${f.code}`),
    ).toEqual([`${want} ${code}`]);
  });

  it.each([
    ['v3.27.0', ['info']],
    ['v3.27.1', []],
  ])('calico-node %s beside kube-proxy in nftables mode', (tag, want) => {
    const nft = readOk(
      kubeProxyNftState(parseNftJson(text('../netfilter/fixtures/kube-proxy-1.36-nftables-small.json'))),
      'nft',
    );
    const a = assessKubeProxy({ nft, components: components(calicoNode(tag)) }, ctx);
    expect(a.findings.filter((f) => f.code === code).map((f) => f.severity)).toEqual(want);
  });
});

// ─── 10. a match module the CNI's iptables needs ──────────────────────────────────────────────
describe('iptables-match-unavailable (kubernetes/test-infra#36372, awslabs/amazon-eks-ami#2605)', () => {
  const code = 'iptables-match-unavailable';
  const host = { backend: 'nft' as const, evidence: [] };
  const ipamd = {
    log: parseVpcCniLog(quoted(code, 'ipamd-log-comment-match-36372.jsonl')),
    path: 'ipamd.log',
  };
  it.each<[string, IptablesDumps, string]>([
    [
      'ipamd failed and the node has no VPC CNI rule',
      dumps({ nft: readIptablesState(recorded('nft-save-forward-drop-kube-forward.txt')) }),
      'critical',
    ],
    [
      'ipamd failed once but its rules are in place',
      dumps({ nft: readIptablesState(recorded('nft-save-aws-connmark.txt')) }),
      'warning',
    ],
  ])('%s', (_n, d, want) => {
    expect(fieldLogFindings({ ipamd, dumps: d, host }).map((f) => `${f.severity} ${f.code}`)).toEqual([
      `${want} ${code}`,
    ]);
  });

  it("portmap's sandbox failure at boot is a warning; other sandbox failures are not this case", () => {
    const kubelet = quoted(code, 'kubelet-event-portmap-comment-2605.txt');
    const failures = { failures: parseSandboxFailures(kubelet), path: 'kubelet/kubelet.log' };
    expect(
      fieldLogFindings({ sandboxFailures: failures, dumps: dumps({}), host }).map((f) => f.severity),
    ).toEqual(['warning']);
    const other = parseSandboxFailures(
      quoted('cni-config-without-daemon', 'kubelet-event-cilium-agent-down-27715.txt'),
    );
    expect(other).toHaveLength(1);
    expect(
      fieldLogFindings({ sandboxFailures: { failures: other, path: 'x' }, dumps: dumps({}), host }),
    ).toEqual([]);
  });
});

// ─── 11. ipamd reaching the API through the ClusterIP ─────────────────────────────────────────
describe('vpc-cni-waits-for-kube-proxy (amazon-vpc-cni-k8s#1078)', () => {
  it.each<[string, Pod, string[]]>([
    ['v1.19.2 without CLUSTER_ENDPOINT', awsNode('v1.19.2-eksbuild.1'), ['info']],
    [
      'v1.19.2 with CLUSTER_ENDPOINT',
      awsNode('v1.19.2', { CLUSTER_ENDPOINT: 'https://ABC.gr7.us-west-2.eks.amazonaws.com' }),
      [],
    ],
    ['v1.6.3 (before the setting existed)', awsNode('v1.6.3'), []],
  ])('%s', (_n, p, want) => {
    const a = cni({ components: components(p) });
    expect(
      a.findings.filter((f) => f.code === 'vpc-cni-waits-for-kube-proxy').map((f) => f.severity),
    ).toEqual(want);
    expect(a.status).toBe('ok');
  });
});

// ─── 12. nftables mode on an old kernel ───────────────────────────────────────────────────────
describe('kube-proxy-nftables-kernel-too-old (EKS best practices, nftables mode)', () => {
  const nft = readOk(
    kubeProxyNftState(parseNftJson(text('../netfilter/fixtures/kube-proxy-1.36-nftables-small.json'))),
    'nft',
  );
  const ctx = { expectation: { expected: 'yes' as const, evidence: 'x' }, nowSeconds: 0 };
  it.each([
    [
      'Linux ip-10-0-1-2 5.10.186-179.751.amzn2.x86_64 #1 SMP Tue Aug 1 20:51:38 UTC 2023 x86_64 GNU/Linux',
      ['warning'],
    ],
    ['Linux ip-10-0-1-2 6.1.115-126.197.amzn2023.x86_64 #1 SMP x86_64 GNU/Linux', []],
  ])('%s', (uname, want) => {
    const version = parseKernelVersion(uname);
    if (!version) throw new Error('test setup');
    const a = assessKubeProxy({ nft, kernel: { version, source: 'kernel/uname.txt' } }, ctx);
    expect(a.mode).toBe('nftables');
    expect(
      a.findings.filter((f) => f.code === 'kube-proxy-nftables-kernel-too-old').map((f) => f.severity),
    ).toEqual(want);
  });
});

describe('the backend mismatch names the components', () => {
  it("adds aws-node's and calico-node's versions and settings to iptables-backend-mismatch", () => {
    const nft = kubeProxyDump('kube-proxy-1.36-iptables-small.txt');
    const legacy = readIptablesState(
      '# Generated by iptables-save v1.8.9 on x\n*filter\n:cali-FORWARD - [0:0]\nCOMMIT\n',
    );
    const a = assessKubeProxy(
      {
        iptablesNft: readOk(nft, 'iptables-nft-save'),
        iptablesLegacy: readOk(legacy, 'iptables-legacy-save'),
        components: components(awsNode('v1.11.4'), calicoNode('v3.24.6', { FELIX_IPTABLESBACKEND: 'auto' })),
      },
      { expectation: { expected: 'yes', evidence: 'x' }, nowSeconds: 0 },
    );
    const f = a.findings.find((x) => x.code === 'iptables-backend-mismatch');
    expect(f?.evidence).toEqual(
      expect.arrayContaining([
        `aws-node v1.11.4 (Pod kube-system/aws-node-x7k2q) (iptables-legacy only before v1.12.1)`,
        'calico-node v3.24.6 (Pod kube-system/calico-node-abcde) FELIX_IPTABLESBACKEND=auto',
      ]),
    );
  });
});

// A non-VPC-CNI node (the lab's ptp) is judged on the same FORWARD evidence.
describe('a routed CNI that is not the VPC CNI', () => {
  it('FORWARD DROP with nothing accepting, a routed pod bound here: critical', () => {
    const a = assessCni({
      confDir: readOk(readCniConfigDir([{ name: '10-lab.conflist', content: PTP_CONF }]), 'cni'),
      confDirPath: '/etc/cni/net.d',
      field: {
        dumps: dumps({ nft: readIptablesState(recorded('nft-save-forward-drop-kube-forward.txt')) }),
        podsForwarded: { yes: true, evidence: 'pod app/web-1 (10.244.0.7) is routed through this node' },
        vethPrefix: null,
      },
    });
    expect(a.status).toBe('broken');
    expect(a.reason).toBe('ForwardPolicyDrop');
  });
});
