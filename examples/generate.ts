/**
 * Builds the sample bundles in examples/ from real tool output. kube-proxy's rules are what the
 * real kube-proxy wrote (recorded by examples/record-kube-proxy.ts into
 * src/netfilter/fixtures/kube-proxy-1.36-iptables-*.txt); the VPC CNI's and Calico's rules are
 * added to them; all of it is loaded with iptables-restore into a private network namespace
 * (nwdoc-<random>) and dumped with iptables-save. Routes and rules are created there with `ip` and
 * printed by `ip rule show` / `ip route show table all`. Logs and events come from the reference
 * samples (public issues). Needs root. The namespace is deleted at exit; nothing on the host is
 * touched.
 *
 *   node_modules/.bin/node examples/generate.ts
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { vpcCniVethName } from '../src/netfilter/chain-names.ts';
import { clusterObjects, NODE, PODS, type PodDef, PRIMARY_IP } from './cluster.ts';

const HERE = dirname(new URL(import.meta.url).pathname);
const SAMPLES = '/work/shared/reference/samples';
const FIXTURES = join(HERE, '../src/netfilter/fixtures');

/** A recording of the real kube-proxy (iptables-save of its node after its first sync). */
const recorded = (file: string): string => readFileSync(join(FIXTURES, file), 'utf8');

const ns = `nwdoc-${randomBytes(4).toString('hex')}`;
const inNs = (cmd: string, args: string[], input?: string): string =>
  execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], {
    input,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    stdio: ['pipe', 'pipe', 'pipe'],
  });

function awsRules(snat: boolean): { nat: string[]; mangle: string[] } {
  const nat = snat
    ? [
        '-A POSTROUTING -m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-0',
        '-A AWS-SNAT-CHAIN-0 -d 10.0.0.0/16 -m comment --comment "AWS SNAT CHAIN" -j RETURN',
        `-A AWS-SNAT-CHAIN-0 ! -o vlan+ -m comment --comment "AWS, SNAT" -m addrtype ! --dst-type LOCAL -j SNAT --to-source ${PRIMARY_IP} --random-fully`,
      ]
    : [];
  nat.push(
    '-A PREROUTING -i eni+ -m comment --comment "AWS, outbound connections" -j AWS-CONNMARK-CHAIN-0',
    '-A PREROUTING -m comment --comment "AWS, CONNMARK" -j CONNMARK --restore-mark --nfmask 0x80 --ctmask 0x80',
    '-A AWS-CONNMARK-CHAIN-0 -d 10.0.0.0/16 -m comment --comment "AWS CONNMARK CHAIN, VPC CIDR" -j RETURN',
    '-A AWS-CONNMARK-CHAIN-0 -m comment --comment "AWS, CONNMARK" -j CONNMARK --set-xmark 0x80/0x80',
  );
  const mangle = [
    '-A PREROUTING -i eth0 -m comment --comment "AWS, primary ENI" -m addrtype --dst-type LOCAL --limit-iface-in -j CONNMARK --set-xmark 0x80/0x80',
    '-A PREROUTING -i eni+ -m comment --comment "AWS, primary ENI" -j CONNMARK --restore-mark --nfmask 0x80 --ctmask 0x80',
  ];
  return { nat, mangle };
}

function calicoRules(pods: readonly PodDef[]): string[] {
  const out = [':cali-FORWARD - [0:0]', ':cali-from-wl-dispatch - [0:0]', ':cali-to-wl-dispatch - [0:0]'];
  const rules = ['-A FORWARD -m comment --comment "cali:wUHhoiAYhphO9Mso" -j cali-FORWARD'];
  let k = 0;
  const id = () => `cali:${(k++).toString(36).padStart(4, '0')}Xq9LmZpT2v`.slice(0, 21);
  for (const p of pods) {
    const v = vpcCniVethName(p.ns, p.name);
    out.push(`:cali-fw-${v} - [0:0]`, `:cali-tw-${v} - [0:0]`);
    rules.push(
      `-A cali-from-wl-dispatch -i ${v} -m comment --comment "${id()}" -g cali-fw-${v}`,
      `-A cali-to-wl-dispatch -o ${v} -m comment --comment "${id()}" -g cali-tw-${v}`,
      `-A cali-fw-${v} -m comment --comment "${id()}" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
      `-A cali-fw-${v} -m comment --comment "${id()}" -m conntrack --ctstate INVALID -j DROP`,
      `-A cali-tw-${v} -m comment --comment "${id()}" -m comment --comment "Drop if no profiles matched" -j DROP`,
    );
  }
  return [...out, ...rules];
}

interface Variant {
  /** The recorded kube-proxy rules of the node (nft backend); none when undefined. */
  kubeProxy?: string;
  snat?: boolean;
  calicoPods?: readonly PodDef[];
  withoutRule512?: string[]; // pod IPs whose 512 rule was wiped
  withoutRoute?: string[];
}

/** The VPC CNI's and Calico's rules, as `iptables-restore --noflush` input added to kube-proxy's. */
function cniRulesRestore(v: Variant): string {
  const aws = awsRules(v.snat ?? true);
  const natChains = ['AWS-SNAT-CHAIN-0', 'AWS-CONNMARK-CHAIN-0'].filter((c) =>
    aws.nat.some((r) => r.includes(c)),
  );
  const calico = v.calicoPods ? calicoRules(v.calicoPods) : [];
  return [
    '*nat',
    ...natChains.map((c) => `:${c} - [0:0]`),
    ...aws.nat,
    'COMMIT',
    '*filter',
    ...calico.filter((l) => l.startsWith(':')),
    ...calico.filter((l) => l.startsWith('-A')),
    'COMMIT',
    '*mangle',
    ...aws.mangle,
    'COMMIT',
    '',
  ].join('\n');
}

/**
 * Creates nfacct counters in the namespace. kube-proxy (1.29+) creates its counters at start and
 * matches on them (`-m nfacct --nfacct-name ct_state_invalid_dropped_pkts`); its recorded rules
 * cannot be restored without them. This sends the netlink request kube-proxy sends
 * (NFNL_SUBSYS_ACCT, NFNL_MSG_ACCT_NEW with NFACCT_NAME) from Python's standard library, because
 * Node.js has no netlink sockets and the machine has no `nfacct` tool. An existing counter is fine.
 */
const NFACCT_ADD = `
import socket, struct, sys
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
for seq, name in enumerate(sys.argv[1:], 1):
    n = name.encode() + b'\\0'
    attr = struct.pack('HH', 4 + len(n), 1) + n + b'\\0' * (-len(n) % 4)
    body = struct.pack('BBH', socket.AF_UNSPEC, 0, 0) + attr
    # type NFNL_SUBSYS_ACCT << 8 | NFNL_MSG_ACCT_NEW; flags REQUEST | ACK | CREATE | EXCL
    s.send(struct.pack('IHHII', 16 + len(body), 7 << 8, 0x1 | 0x4 | 0x400 | 0x200, seq, 0) + body)
    err = struct.unpack('i', s.recv(4096)[16:20])[0]
    if err not in (0, -17):
        sys.exit('nfacct add %s: errno %d' % (name, -err))
`;

function ensureNfacct(rules: string): void {
  const names = [...new Set([...rules.matchAll(/--nfacct-name +(\S+)/g)].map((m) => m[1] as string))];
  if (names.length > 0) inNs('python3', ['-c', NFACCT_ADD, ...names]);
}

/** Loads kube-proxy's recorded rules, then the CNI's, into iptables-nft and dumps them. */
function save(v: Variant): string {
  for (const b of ['nft', 'legacy'])
    for (const t of ['nat', 'filter', 'mangle'])
      spawnSync('ip', ['netns', 'exec', ns, `iptables-${b}`, '-t', t, '-F']);
  for (const b of ['nft', 'legacy'])
    for (const t of ['nat', 'filter', 'mangle'])
      spawnSync('ip', ['netns', 'exec', ns, `iptables-${b}`, '-t', t, '-X']);
  if (v.kubeProxy) {
    const rules = recorded(v.kubeProxy);
    ensureNfacct(rules);
    inNs('iptables-nft-restore', [], rules);
  }
  inNs('iptables-nft-restore', ['--noflush'], cniRulesRestore(v));
  return inNs('iptables-nft-save', []);
}

function ipState(v: Variant): { rule: string; route: string } {
  // Fresh links/rules/routes per variant.
  for (const l of JSON.parse(inNs('ip', ['-j', 'link'])) as { ifname: string }[])
    if (l.ifname !== 'lo') spawnSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'del', l.ifname]);
  spawnSync('ip', ['netns', 'exec', ns, 'ip', 'rule', 'flush']);
  // `ip rule flush` keeps the local rule; re-add the two defaults it removes.
  spawnSync('ip', ['netns', 'exec', ns, 'ip', 'rule', 'add', 'prio', '32766', 'lookup', 'main']);
  spawnSync('ip', ['netns', 'exec', ns, 'ip', 'rule', 'add', 'prio', '32767', 'lookup', 'default']);
  inNs('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'uplink0']);
  inNs('ip', ['addr', 'add', `${PRIMARY_IP}/20`, 'dev', 'eth0']);
  inNs('ip', ['link', 'set', 'eth0', 'up']);
  inNs('ip', ['link', 'set', 'uplink0', 'up']);
  inNs('ip', [
    'route',
    'add',
    'default',
    'via',
    '10.0.80.1',
    'dev',
    'eth0',
    'proto',
    'dhcp',
    'src',
    PRIMARY_IP,
    'metric',
    '1024',
  ]);
  inNs('ip', ['link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'uplink1']);
  inNs('ip', ['link', 'set', 'eth1', 'up']);
  inNs('ip', ['link', 'set', 'uplink1', 'up']);
  inNs('ip', ['route', 'add', 'default', 'via', '10.0.80.1', 'dev', 'eth1', 'table', '2', 'onlink']);
  inNs('ip', ['route', 'add', '10.0.80.1', 'dev', 'eth1', 'scope', 'link', 'table', '2']);
  inNs('ip', ['rule', 'add', 'fwmark', '0x80/0x80', 'lookup', 'main', 'prio', '1024']);
  PODS.forEach((p, i) => {
    const veth = vpcCniVethName(p.ns, p.name);
    inNs('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', `pod${i}`]);
    inNs('ip', ['link', 'set', veth, 'up']);
    inNs('ip', ['link', 'set', `pod${i}`, 'up']);
    if (!v.withoutRoute?.includes(p.ip))
      inNs('ip', ['route', 'add', `${p.ip}/32`, 'dev', veth, 'scope', 'link']);
    if (!v.withoutRule512?.includes(p.ip))
      inNs('ip', ['rule', 'add', 'to', p.ip, 'lookup', 'main', 'prio', '512']);
    if (p.device > 0)
      inNs('ip', ['rule', 'add', 'from', p.ip, 'lookup', String(p.device + 1), 'prio', '1536']);
  });
  return { rule: inNs('ip', ['rule', 'show']), route: inNs('ip', ['route', 'show', 'table', 'all']) };
}

function sample(name: string): string {
  return readFileSync(join(SAMPLES, name), 'utf8')
    .split('\n')
    .filter((l) => !l.startsWith('# '))
    .join('\n');
}

const AWS_CONFLIST = JSON.stringify(
  {
    cniVersion: '0.4.0',
    name: 'aws-cni',
    disableCheck: true,
    plugins: [
      {
        name: 'aws-cni',
        type: 'aws-cni',
        vethPrefix: 'eni',
        mtu: '9001',
        podSGEnforcingMode: 'strict',
        pluginLogFile: '/var/log/aws-routed-eni/plugin.log',
        pluginLogLevel: 'DEBUG',
        capabilities: { 'io.kubernetes.cri.pod-annotations': true },
      },
      {
        name: 'egress-cni',
        type: 'egress-cni',
        mtu: '9001',
        enabled: 'false',
        randomizeSNAT: 'prng',
        nodeIP: '',
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: 'fd00::ac:00/118' }]],
          routes: [{ dst: '::/0' }],
          dataDir: '/run/cni/v4pd/egress-v6-ipam',
        },
        pluginLogFile: '/var/log/aws-routed-eni/egress-v6-plugin.log',
        pluginLogLevel: 'DEBUG',
      },
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    ],
  },
  null,
  2,
);

function introspection(pods: readonly PodDef[]): { enis: string; pods: string; ckpt: string } {
  const eni = (id: string, dev: number, primary: boolean) => ({
    ID: id,
    IsPrimary: primary,
    IsTrunk: false,
    IsEFA: false,
    DeviceNumber: dev,
    AvailableIPv4Cidrs: Object.fromEntries(
      pods
        .filter((p) => p.device === dev)
        .map((p) => [
          `${p.ip}/32`,
          {
            Cidr: { IP: p.ip, Mask: '/////w==' },
            IPAddresses: {
              [p.ip]: {
                Address: p.ip,
                IPAMKey: {
                  networkName: 'aws-cni',
                  containerID: randomBytes(32).toString('hex'),
                  ifName: 'eth0',
                },
                IPAMMetadata: { k8sPodNamespace: p.ns, k8sPodName: p.name },
                AssignedTime: '2026-11-27T06:02:11.123456789Z',
                UnassignedTime: '0001-01-01T00:00:00Z',
              },
            },
            IsPrefix: false,
            AddressFamily: '',
          },
        ]),
    ),
  });
  const enis = {
    TotalIPs: 28,
    AssignedIPs: pods.length,
    ENIs: {
      'eni-0a80ddc608579a6ff': eni('eni-0a80ddc608579a6ff', 0, true),
      'eni-0c41f2e9d8b7a6543': eni('eni-0c41f2e9d8b7a6543', 1, false),
    },
  };
  const podMap = Object.fromEntries(
    pods.map((p) => [
      `${p.name}_${p.ns}_${randomBytes(32).toString('hex')}`,
      { IP: p.ip, DeviceNumber: p.device },
    ]),
  );
  const ckpt = {
    version: 'vpc-cni-ipam/1',
    allocations: pods.map((p) => ({
      networkName: 'aws-cni',
      containerID: randomBytes(32).toString('hex'),
      ifName: 'eth0',
      ipv4: p.ip,
      allocationTimestamp: 1795932131123456800, // ns since the epoch (exact digits do not matter)
      metadata: { k8sPodNamespace: p.ns, k8sPodName: p.name },
    })),
  };
  return {
    enis: JSON.stringify(enis, null, 2),
    pods: JSON.stringify(podMap, null, 2),
    ckpt: JSON.stringify(ckpt),
  };
}

const HEALTHY_IPAMD_LOG = [
  '{"level":"info","ts":"2026-11-27T06:01:40.102Z","caller":"aws-k8s-agent/main.go:42","msg":"Starting L-IPAMD v1.19.2  ..."}',
  '{"level":"info","ts":"2026-11-27T06:01:40.140Z","caller":"aws-k8s-agent/main.go:42","msg":"Testing communication with server"}',
  '{"level":"info","ts":"2026-11-27T06:01:40.161Z","caller":"aws-k8s-agent/main.go:42","msg":"Successful communication with the Cluster! Cluster Version is: v1.31.4-eks-2d5f260. git version: v1.31.4-eks-2d5f260. git tree state: clean. commit: 1b3a4b8b. platform: linux/amd64"}',
  '{"level":"info","ts":"2026-11-27T06:01:41.305Z","caller":"ipamd/ipamd.go:454","msg":"Begin ipam state recovery from backing store"}',
  '{"level":"info","ts":"2026-11-27T06:01:41.412Z","caller":"ipamd/ipamd.go:520","msg":"Completed ipam state recovery"}',
  '{"level":"info","ts":"2026-11-27T06:01:42.001Z","caller":"aws-k8s-agent/main.go:64","msg":"Serving RPC Handler version v1.19.2 on 127.0.0.1:50051"}',
].join('\n');

function write(dir: string, files: Record<string, string>): void {
  rmSync(dir, { recursive: true, force: true });
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content.endsWith('\n') ? content : `${content}\n`);
  }
}

function bundleFiles(v: Variant, extra: Record<string, string>): Record<string, string> {
  const save1 = save(v);
  const ip = ipState(v);
  const intro = introspection(PODS);
  const listing = (t: string) => inNs('iptables-nft', ['--numeric', '--verbose', '--list', '--table', t]);
  return {
    'networking/iptables-save.txt': save1,
    'networking/iptables-nat.txt': listing('nat'),
    'networking/iptables-filter.txt': listing('filter'),
    'networking/iptables-mangle.txt': listing('mangle'),
    'networking/iprule.txt': ip.rule,
    'networking/iproute.txt': ip.route,
    'networking/resolv.conf': 'search ec2.internal\noptions timeout:2 attempts:5\nnameserver 10.0.0.2',
    'networking/conntrack.txt':
      '*** Output of conntrack -S *** \ncpu=0   \tfound=0 invalid=12 insert=0 insert_failed=0 drop=0 early_drop=0 error=0 search_restart=3\ncpu=1   \tfound=0 invalid=9 insert=0 insert_failed=0 drop=0 early_drop=0 error=0 search_restart=1',
    'cni/10-aws.conflist': AWS_CONFLIST,
    'cni/aws-cni-support.sh': '#!/bin/bash\n# copied by aws-node; not a CNI config\n',
    'ipamd/enis.json': intro.enis,
    'ipamd/pods.json': intro.pods,
    'ipamd/ipam.json': intro.ckpt,
    'ipamd/networkutils-env-settings.json': JSON.stringify({
      AWS_VPC_K8S_CNI_EXTERNALSNAT: 'false',
      AWS_VPC_K8S_CNI_VETHPREFIX: 'eni',
      AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'prng',
    }),
    'ipamd/ipamd-env-settings.json': JSON.stringify({
      ENABLE_POD_ENI: 'false',
      WARM_ENI_TARGET: '1',
      ENABLE_NETWORK_POLICY: 'false',
    }),
    'ipamd/metrics.json':
      '# HELP awscni_assigned_ip_addresses The number of IP addresses assigned to pods\n# TYPE awscni_assigned_ip_addresses gauge\nawscni_assigned_ip_addresses 6\n# HELP awscni_eni_allocated The number of ENIs allocated\n# TYPE awscni_eni_allocated gauge\nawscni_eni_allocated 2',
    'var_log/aws-routed-eni/ipamd.log': HEALTHY_IPAMD_LOG,
    'var_log/aws-routed-eni/plugin.log': PODS.map(
      (p, i) =>
        `{"level":"info","ts":"2026-11-27T06:02:1${i}.5${i}0Z","caller":"routed-eni-cni-plugin/cni.go:252","msg":"Received add network response from ipamd for container ${randomBytes(32).toString('hex')} interface eth0: Success:true  IPAllocationMetadata:{IPv4Addr:\\"${p.ip}\\"  DeviceNumber:${p.device}  RouteTableId:${p.device + 1}}  VPCv4CIDRs:\\"10.0.0.0/16\\""}`,
    ).join('\n'),
    'kubelet/kubelet.log': `Nov 27 06:01:12 ${NODE} kubelet[3051]: I1127 06:01:12.401230    3051 kubelet_node_status.go:76] "Attempting to register node" node="${NODE}"\nNov 27 06:01:12 ${NODE} kubelet[3051]: I1127 06:01:12.433311    3051 kubelet_node_status.go:79] "Successfully registered node" node="${NODE}"`,
    'kernel/uname.txt': `Linux ${NODE} 6.1.115-126.197.amzn2023.x86_64 #1 SMP PREEMPT_DYNAMIC Tue Nov  5 17:36:57 UTC 2024 x86_64 x86_64 x86_64 GNU/Linux`,
    'sysctls/sysctl_all.txt':
      'net.ipv4.ip_forward = 1\nnet.ipv4.conf.all.rp_filter = 1\nnet.ipv4.conf.eth0.rp_filter = 1',
    ...extra,
  };
}

try {
  execFileSync('ip', ['netns', 'add', ns]);
  inNs('ip', ['link', 'set', 'lo', 'up']);
  const objects = clusterObjects();
  writeFileSync(
    join(HERE, 'cluster-state.json'),
    `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2)}\n`,
  );
  const kubeProxy = 'kube-proxy-1.36-iptables-example.txt';

  // 1. Healthy node: everything programmed.
  write(join(HERE, 'healthy-node'), bundleFiles({ kubeProxy, calicoPods: PODS }, {}));

  // 2. The reboot failure: kube-proxy half-synced, networkd wiped rules, Calico late, ipamd down for a while.
  //    kube-proxy's rules are the real kube-proxy's for a view that lags the API (it has not seen the
  //    rabbitmq and vault Services nor web's EndpointSlice: no rules for the first two, a "has no
  //    endpoints" REJECT for web), recorded, not edited.
  const broken = bundleFiles(
    {
      kubeProxy: 'kube-proxy-1.36-iptables-example-stale.txt',
      calicoPods: PODS.filter((p) => !['vault-0', 'web-7c9d8f6b5-fghij'].includes(p.name)),
      withoutRule512: ['10.0.87.206', '10.0.87.240'],
      withoutRoute: ['10.0.84.78'],
    },
    {
      'var_log/aws-routed-eni/ipamd.log': `${sample('ipamd-log-startup-node-boot.jsonl')
        .replace(/^\*\*\* START \*\*\*\n/, '')
        .split('\n')
        .filter((l) => l.startsWith('{') && l.endsWith('}'))
        .join(
          '\n',
        )}\n{"level":"error","ts":"2020-06-23T09:15:30.001Z","caller":"ipamd/ipamd.go:401","msg":"Failed to call ec2:DescribeNetworkInterfaces for [eni-0a80ddc608579a6ff]: RequestLimitExceeded: Request limit exceeded. status code: 503, request id: 5a1f"}\n{"level":"error","ts":"2020-06-23T09:15:34.512Z","caller":"ipamd/ipamd.go:401","msg":"Failed to call ec2:DescribeNetworkInterfaces for [eni-0c41f2e9d8b7a6543]: RequestLimitExceeded: Request limit exceeded. status code: 503, request id: 77b2"}\n{"level":"error","ts":"2020-06-23T09:15:44.020Z","caller":"ipamd/ipamd.go:652","msg":"Failed to retrieve interfaces data from instance metadata RequestError: send request failed"}`,
      'var_log/aws-routed-eni/plugin.log': sample('plugin-log-ipamd-unreachable.jsonl'),
      'kubelet/kubelet.log': `Jun 23 09:15:20 ${NODE} kubelet[3051]: I0623 09:15:12.433311    3051 kubelet_node_status.go:79] "Successfully registered node" node="${NODE}"\nJun 23 09:15:21 ${NODE} kubelet[3051]: Warning  FailedCreatePodSandBox  ${sample('kubelet-event-aws-cni-add-failed.txt').trim()}\nJun 23 09:15:52 ${NODE} kubelet[3051]: E0623 09:15:52.118201    3051 pod_workers.go:1301] "Error syncing pod, skipping" err="failed to \\"CreatePodSandbox\\" for \\"rabbitmq-0_app(3f9c)\\" with CreatePodSandboxError: \\"Failed to create sandbox for pod \\\\\\"rabbitmq-0_app(3f9c)\\\\\\": rpc error: code = Unknown desc = failed to setup network for sandbox: plugin type=\\\\\\"aws-cni\\\\\\" name=\\\\\\"aws-cni\\\\\\" failed (add): add cmd: failed to assign an IP address to container\\"" pod="app/rabbitmq-0" podUID="3f9c"`,
    },
  );
  write(join(HERE, 'rebooted-node-broken'), broken);

  // 3. Hybrid CNI mistakes: a Calico CNI config (05-calico.conflist) sorting before 10-aws.conflist, VPC CNI network policy on, SNAT gone.
  const conflict = bundleFiles(
    { kubeProxy, calicoPods: PODS, snat: false },
    {
      'cni/05-calico.conflist': JSON.stringify(
        {
          name: 'k8s-pod-network',
          cniVersion: '0.3.1',
          plugins: [
            {
              type: 'calico',
              log_level: 'info',
              datastore_type: 'kubernetes',
              nodename: NODE,
              mtu: 0,
              ipam: { type: 'calico-ipam' },
              policy: { type: 'k8s' },
              kubernetes: { kubeconfig: '/etc/cni/net.d/calico-kubeconfig' },
            },
            { type: 'portmap', snat: true, capabilities: { portMappings: true } },
            { type: 'bandwidth', capabilities: { bandwidth: true } },
          ],
        },
        null,
        2,
      ),
      'cni/calico-kubeconfig': 'apiVersion: v1\nkind: Config\n',
      'ipamd/ipamd-env-settings.json': JSON.stringify({
        ENABLE_POD_ENI: 'false',
        WARM_ENI_TARGET: '1',
        ENABLE_NETWORK_POLICY: 'true',
      }),
    },
  );
  write(join(HERE, 'cni-conflict'), conflict);

  // 4. Backend mismatch, as an archive with the collector's root folder: the host's iptables-nft has no
  //    kube-proxy rules (only the CNI's), kube-proxy wrote iptables-legacy. The doctor judges the VPC
  //    CNI's rules in the backend that holds them (here iptables-nft).
  const mismatchDir = join(HERE, '.tmp-mismatch');
  const root = 'eks_i-0abc123def4567890_2026-11-27_0615-UTC_0.7.3';
  const files = bundleFiles({ calicoPods: PODS }, {});
  // kube-proxy's rules as the real kube-proxy wrote them on the iptables-legacy backend; the nft dump
  // then says legacy tables exist (iptables-nft-save prints this when it sees them).
  const legacy = recorded('kube-proxy-1.36-iptables-legacy-example.txt');
  ensureNfacct(legacy);
  inNs('iptables-legacy-restore', [], legacy);
  const nftOut = spawnSync('ip', ['netns', 'exec', ns, 'iptables-nft-save'], { encoding: 'utf8' });
  files['networking/iptables-save.txt'] = `${nftOut.stdout}${nftOut.stderr}`;
  files['networking/iptables-legacy-save.txt'] = inNs('iptables-legacy-save', []);
  write(join(mismatchDir, root), files);
  execFileSync('tar', [
    '--create',
    '--gzip',
    '--file',
    join(HERE, 'backend-mismatch.tar.gz'),
    '--directory',
    mismatchDir,
    '--owner=0',
    '--group=0',
    '--mtime=2026-11-27 06:15Z',
    root,
  ]);
  rmSync(mismatchDir, { recursive: true, force: true });
  console.log(`examples written under ${HERE}`);
} finally {
  spawnSync('ip', ['netns', 'delete', ns]);
}
