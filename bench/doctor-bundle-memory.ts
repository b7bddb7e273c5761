/**
 * Peak memory of `netwarden doctor --bundle` on crafted and large bundles. Builds each archive in
 * a temporary folder, runs the CLI as a child process (its own maxRSS at exit; a watchdog kills it
 * past --kill-above MiB so a bad run cannot eat the shared machine), and prints one JSON line per
 * scenario with the median over --runs. Asserts nothing.
 *
 *   node bench/doctor-bundle-memory.ts [--scenario bomb|wide|scale|all] [--runs 3]
 *        [--cli /path/to/src/cli/main.ts]   # measure another checkout (e.g. main, for "before")
 *        [--kill-above 3072] [--max-memory MB]   # passed on to the doctor
 *   node bench/doctor-bundle-memory.ts --calibrate [--mib 4]
 *        # the memory model of src/doctor/budget.ts against reality: for each input and shape, a
 *        # child loads and analyses only that input and prints its real peak RSS growth next to
 *        # the budget's estimate (ratio real/estimate must stay below 1)
 *
 * Scenarios:
 *   bomb   the archive: ~4.5 MB .tar.gz of 70 entries of 64 MiB (one read input, repeated)
 *   wide   every input the doctor reads just under its read limit, in the shape that costs its
 *          parser most (see --calibrate), some far over it, 2,000 CNI files; gzip stays ~10:1
 *   scale  a plausible big node: a 10,000-Service kube-proxy ruleset (25 MB) and logs, with the
 *          matching --cluster-state
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { type CostClass, costUnits, estimateCost } from '../src/doctor/budget.ts';
import { inputRead } from '../src/doctor/inputs.ts';
import { repeatedTo, runMeasured, TAR_END, tarEntry, tarHeader, tarPadding } from '../src/doctor/testing.ts';
import { serializeClusterState } from '../src/netfilter/cluster-state.ts';
import { expectedServicePorts } from '../src/netfilter/expected.ts';
import { syntheticCluster } from './doctor-parse.ts';
import { syntheticKubeProxyRuleset } from './lib/synthetic-ruleset.ts';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'all' },
    runs: { type: 'string', default: '3' },
    cli: { type: 'string', default: new URL('../src/cli/main.ts', import.meta.url).pathname },
    'kill-above': { type: 'string', default: '3072' },
    'max-memory': { type: 'string' },
    calibrate: { type: 'boolean', default: false },
    mib: { type: 'string', default: '4' },
    probe: { type: 'string' },
    shape: { type: 'string' },
  },
});
const node = new URL('../node_modules/.bin/node', import.meta.url).pathname;
const MiB = 1024 * 1024;
const ROOT = 'eks_i-0123456789abcdef0_2026-11-01_0000-UTC_0.7.6';

/** Whole lines varied by a counter (so gzip cannot squeeze them like a bomb) up to at least `bytes`. */
function varied(make: (i: number) => string, bytes: number): Buffer {
  const parts: string[] = [];
  let n = 0;
  for (let i = 0; n < bytes; i++) {
    const l = make(i);
    parts.push(l);
    n += l.length;
  }
  return Buffer.from(parts.join(''));
}

/** Input shapes for --calibrate: body lines varied by a counter, wrapped in `pre`/`post`. */
interface Shapes {
  readonly cls: CostClass;
  readonly pre?: string;
  readonly post?: string;
  readonly lines: readonly ((i: number) => string)[];
}
const ip4 = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const SHAPES: Readonly<Record<string, Shapes>> = {
  'networking/iptables-save.txt': {
    cls: 'iptables',
    pre: '*nat\n',
    post: 'COMMIT\n',
    lines: [
      (i) =>
        `-A KUBE-SERVICES -d ${ip4(i)}/32 -p tcp -m comment --comment "ns-${i % 50}/svc-${i}:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-${i}\n`,
      (i) => `-A KUBE-SERVICES -j X${i}\n`,
      (i) => `:C${i} - [0:0]\n`,
      (i) => `COMMIT\n*nat\n-A A${i}\n`,
      (i) => `-A A${i}\n`,
      (i) => `-A KUBE-SVC-${i} -m statistic --mode random --probability 0.2 -j KUBE-SEP-${i}\n`,
      (i) => `-A KUBE-SEP-${i} -p tcp -m tcp -j DNAT --to-destination ${ip4(i)}:80\n`,
      (i) => `-A cali-fw-eni${i} -j ACCEPT\n`,
      (i) => `-A KUBE-SERVICES -d 10.0.0.${i & 255}/32 -p tcp --dport ${i & 65535} -j KUBE-SVC-A\n`,
      (i) => `-A POSTROUTING -m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-${i}\n`,
    ],
  },
  'var_log/aws-routed-eni/ipamd.log': {
    cls: 'lines',
    lines: [
      (i) => `{"level":"error","msg":"${i}"}\n`,
      (i) =>
        `{"level":"error","ts":"2024-01-01T00:00:${i % 60}.${i}Z","caller":"c${i}","msg":"Failed ${i}"}\n`,
      (i) => `{"a":${i}}\n`,
      (i) => `2018-05-12T00:59:59Z [ERROR] ${i}\n`,
      (i) =>
        `{"level":"info","ts":"2026-11-01T00:00:00.000Z","caller":"ipamd/ipamd.go:${i % 900}","msg":"Reconciling ENI/IP pool info because time since last ${i}"}\n`,
      (i) => `{"level":"error","msg":"failed to assign ${i} dial tcp 127.0.0.1:50051"}\n`,
    ],
  },
  'kubelet/kubelet.log': {
    cls: 'lines',
    lines: [
      (i) => `dial tcp 127.0.0.1:50051 ${i}\n`,
      (i) => `failed to assign an IP address to container ${i}\n`,
      (i) => `FailedCreatePodSandBox network for pod "p${i}"\n`,
      (i) => `x${i}\n`,
    ],
  },
  'var_log/kube-proxy.log': {
    cls: 'lines',
    lines: [(i) => `Sync failed ${i}\n`, () => '\n', (i) => `${i}\n`],
  },
  'kube-proxy/metrics.txt': {
    cls: 'lines',
    lines: [
      (i) => `a${i} 1\n`,
      (i) => `a{b="${i}"} 1\n`,
      (i) => `a{b${i}="",c="",d=""} 1\n`,
      (i) => `kubeproxy_sync_proxy_rules_last_timestamp_seconds{x="${i}"} 1.7e9\n`,
    ],
  },
  'networking/iprule.txt': {
    cls: 'lines',
    lines: [
      (i) => `${i % 32000}: from all lookup ${i}\n`,
      (i) => `512:\tfrom all to ${ip4(i)} lookup main\n`,
      (i) => `${i}:\n`,
    ],
  },
  'networking/iproute.txt': {
    cls: 'lines',
    lines: [
      (i) => `${ip4(i)} dev e${i}\n`,
      (i) => `default via 10.0.0.1 dev eth0 table ${i}\n`,
      (i) => `${i}\n`,
    ],
  },
  'netwarden/node-name.txt': { cls: 'lines', lines: [(i) => `n${i}\n`] },
  'networking/nft-kube-proxy.json': {
    cls: 'json',
    pre: '{"nftables":[',
    post: '{}]}',
    lines: [
      (i) => `{"rule":{"family":"ip","table":"kube-proxy","chain":"c${i}","expr":[{}]}},`,
      (i) => `{"element":{"family":"ip","table":"kube-proxy","name":"service-ips","elem":[${i}]}},`,
      (i) => `{"chain":{"family":"ip","table":"kube-proxy","name":"c${i}"}},`,
      (i) => `{"a":${i}},`,
      (i) => `[${i}],`,
      (i) => `${i},`,
      (i) => `"${i}",`,
      (i) =>
        `{"map":{"family":"ip","table":"kube-proxy","name":"service-ips","elem":[[{"concat":["${ip4(i)}","tcp",${i & 65535}]},{"goto":{"target":"s${i}"}}]]}},`,
    ],
  },
  'networking/ip-route.json': {
    cls: 'json',
    pre: '[',
    post: '{}]',
    lines: [
      (i) => `{"dst":"${ip4(i)}","dev":"e${i}","flags":[]},`,
      (i) => `[${i}],`,
      (i) => `{"a${i}":0},`,
      (i) => `${i},`,
    ],
  },
  'networking/ip-rule.json': {
    cls: 'json',
    pre: '[',
    post: '{}]',
    lines: [(i) => `{"priority":${i},"src":"all","table":"main"},`, (i) => `{"p":${i}},`],
  },
  'networking/ip-link.json': {
    cls: 'json',
    pre: '[',
    post: '{}]',
    lines: [(i) => `{"ifname":"${i}"},`, (i) => `{"ifname":"e${i}","flags":["UP"],"mtu":9001},`],
  },
  'ipamd/pods.json': {
    cls: 'json-map',
    pre: '{',
    post: '"z":{}}',
    lines: [(i) => `"${i}":{},`, (i) => `"p${i}":{"IP":"${ip4(i)}","DeviceNumber":0},`],
  },
  'ipamd/enis.json': {
    cls: 'json-map',
    pre: '{"ENIs":{',
    post: '"z":{}}}',
    lines: [(i) => `"${i}":{"IPv4Addresses":[{"Address":"10.0.0.${i & 255}"}]},`, (i) => `"${i}":{},`],
  },
  'ipamd/ipam.json': {
    cls: 'json-map',
    pre: '{"allocations":[',
    post: '{}]}',
    lines: [(i) => `{"ipv4":"${ip4(i)}","metadata":{"k8sPodName":"p${i}"}},`, (i) => `{"a":${i}},`],
  },
  'ipamd/ipamd-env-settings.json': {
    cls: 'json-map',
    pre: '{',
    post: '"z":""}',
    lines: [(i) => `"k${i}":"",`, (i) => `"k${i}":"${i}",`],
  },
  'kube-proxy/healthz.json': { cls: 'json-map', pre: '{', post: '"z":0}', lines: [(i) => `"k${i}":0,`] },
  'cni/10-aws.conflist': {
    cls: 'json',
    pre: '{"name":"a","cniVersion":"1.0.0","plugins":[',
    post: '{"type":"x"}]}',
    lines: [(i) => `{"type":"t${i}"},`, (i) => `${i},`, (i) => `{"a${i}":{}},`],
  },
};

/** An input in one calibration shape, as whole lines, of at most `bytes` with its wrapping. */
function shaped(name: string, shape: number, bytes: number): Buffer {
  const s = SHAPES[name] as Shapes;
  const pre = Buffer.from(s.pre ?? '');
  const post = Buffer.from(s.post ?? '');
  const make = s.lines[shape] as (i: number) => string;
  const parts: string[] = [];
  let n = pre.length + post.length;
  for (let i = 0; ; i++) {
    const l = make(i);
    if (n + l.length > bytes) break;
    parts.push(l);
    n += l.length;
  }
  return Buffer.concat([pre, Buffer.from(parts.join('')), post]);
}

/**
 * The wide scenario: every input the doctor reads just under its read limit, each in the shape
 * --calibrate found costliest for it (so the budget, not the limits, must hold the line), a few
 * far over their limit, presence-only inputs large, and 2,000 CNI files.
 */
function wideEntries(): [string, Buffer][] {
  const limit = (name: string): number => {
    const r = inputRead(name);
    return r && r.keep !== 'presence' ? r.maxBytes : 0;
  };
  const at = (name: string, like: string, shape: number): [string, Buffer] => [
    name,
    shaped(like, shape, limit(name)),
  ];
  const ipt = 'networking/iptables-save.txt';
  return [
    at('var_log/aws-routed-eni/ipamd.log', 'var_log/aws-routed-eni/ipamd.log', 5),
    at('var_log/aws-routed-eni/plugin.log', 'var_log/aws-routed-eni/ipamd.log', 3),
    at('var_log/kube-proxy.log', 'var_log/kube-proxy.log', 0),
    at('kubelet/kubelet.log', 'kubelet/kubelet.log', 0),
    at('kube-proxy/metrics.txt', 'kube-proxy/metrics.txt', 2),
    at('networking/iprule.txt', 'networking/iprule.txt', 1),
    at('networking/iproute.txt', 'networking/iproute.txt', 1),
    at('networking/ip-rule.json', 'networking/ip-rule.json', 0),
    at('networking/ip-route.json', 'networking/ip-route.json', 0),
    at('networking/ip-link.json', 'networking/ip-link.json', 0),
    at('ipamd/pods.json', 'ipamd/pods.json', 1),
    at('ipamd/enis.json', 'ipamd/enis.json', 1),
    at('ipamd/ipam.json', 'ipamd/ipam.json', 0),
    at('ipamd/ipamd-env-settings.json', 'ipamd/ipamd-env-settings.json', 1),
    at('ipamd/networkutils-env-settings.json', 'ipamd/ipamd-env-settings.json', 0),
    at('kube-proxy/healthz.json', 'kube-proxy/healthz.json', 0),
    at('networking/nft-kube-proxy.json', 'networking/nft-kube-proxy.json', 2),
    at(ipt, ipt, 0),
    at('networking/iptables-nft-save.txt', ipt, 6),
    ['networking/iptables-legacy-save.txt', shaped(ipt, 0, 96 * MiB)],
    ['networking/conntrack.txt', varied((i) => `tcp 6 ${i} ESTABLISHED src=${ip4(i)}\n`, 256 * MiB)],
    ['sysctls/sysctl_all.txt', varied((i) => `net.x.${i} = 1\n`, 64 * MiB)],
    ...Array.from({ length: 2000 }, (_, i): [string, Buffer] => [
      `cni/${String(i).padStart(4, '0')}-x.conflist`,
      shaped('cni/10-aws.conflist', 2, 60 * 1024),
    ]),
  ];
}

function writeArchive(file: string, entries: Iterable<[string, Buffer]>): void {
  writeFileSync(file, '');
  for (const [name, body] of entries)
    appendFileSync(file, gzipSync(tarEntry(`${ROOT}/${name}`, body), { level: 1 }));
  appendFileSync(file, gzipSync(TAR_END));
}

/** The archive: one 64 MiB entry compressed once, its gzip member repeated (valid multi-member gzip). */
function writeBomb(file: string, count: number, entryMiB: number): void {
  const line = '\n'; // blank lines: gzip squeezes them ~1000:1, as in the 4.5 MB archive
  const body = repeatedTo(line, entryMiB * MiB);
  const member = gzipSync(
    Buffer.concat([
      tarHeader(`${ROOT}/networking/iptables-save.txt`, body.length),
      body,
      tarPadding(body.length),
    ]),
    { level: 9 },
  );
  writeFileSync(file, '');
  for (let i = 0; i < count; i++) appendFileSync(file, member);
  appendFileSync(file, gzipSync(TAR_END));
}

function writeScale(dir: string): { archive: string; cluster: string } {
  const cluster = syntheticCluster(10_000, 5);
  const clusterFile = join(dir, 'scale-cluster.json');
  writeFileSync(clusterFile, serializeClusterState(cluster));
  const rules = syntheticKubeProxyRuleset(expectedServicePorts(cluster), { clusterCidr: '10.128.0.0/10' });
  const log = (i: number): string =>
    `{"level":"info","ts":"2026-11-01T00:00:${String(i % 60).padStart(2, '0')}.000Z","caller":"ipamd/ipamd.go:${i % 900}","msg":"Reconciling ENI/IP pool info because time since last ${i}"}\n`;
  const archive = join(dir, 'scale.tar.gz');
  writeArchive(archive, [
    ['networking/iptables-save.txt', Buffer.from(rules)],
    ['networking/iprule.txt', Buffer.from('0:\tfrom all lookup local\n32766:\tfrom all lookup main\n')],
    ['var_log/aws-routed-eni/ipamd.log', varied(log, 24 * MiB)],
    [
      'kubelet/kubelet.log',
      varied((i) => `Nov 01 00:00:00 ip-10-0-0-1 kubelet[1]: I1101 sync ${i}\n`, 24 * MiB),
    ],
  ]);
  return { archive, cluster: clusterFile };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] ?? Number.NaN;
};

async function measure(name: string, archive: string, extra: string[] = []): Promise<void> {
  const runs = Number(values.runs);
  const peaks: number[] = [];
  const walls: number[] = [];
  let last: Awaited<ReturnType<typeof runMeasured>> | undefined;
  for (let i = 0; i < runs; i++) {
    const mem = values['max-memory'] !== undefined ? ['--max-memory', values['max-memory']] : [];
    last = await runMeasured(node, [values.cli as string, 'doctor', '--bundle', archive, ...mem, ...extra], {
      killAboveMb: Number(values['kill-above']),
      timeoutMs: 300_000,
      env: { ...process.env, NO_COLOR: '1' },
    });
    peaks.push(last.peakRssMb);
    walls.push(last.wallMs);
  }
  const { statSync } = await import('node:fs');
  console.log(
    JSON.stringify({
      scenario: name,
      cli: values.cli,
      archiveMB: +(statSync(archive).size / 1e6).toFixed(1),
      runs,
      peakRssMbMedian: median(peaks),
      peakRssMb: peaks,
      wallMsMedian: median(walls),
      exitCode: last?.code,
      killedByWatchdog: last?.killed,
      stderr: last?.stderr.trim().split('\n')[0]?.slice(0, 300),
      summary: last?.stdout.trim().split('\n').pop(),
      notes: last?.stdout.split('\n').filter((l) => /not read|skipped|truncated|budget|limit/.test(l)).length,
    }),
  );
}

/** Child of --calibrate: loads and analyses one input shape, prints real peak growth and the estimate. */
async function probe(name: string, shape: number, bytes: number): Promise<void> {
  const { analyzeNode } = await import('../src/doctor/analyze.ts');
  const { memoryInputs } = await import('../src/doctor/inputs.ts');
  const { readFileSync } = await import('node:fs');
  const s = SHAPES[name] as Shapes;
  const make = s.lines[shape] as (i: number) => string;
  const buf = Buffer.concat([Buffer.from(s.pre ?? ''), varied(make, bytes), Buffer.from(s.post ?? '')]);
  const status = (k: string): number =>
    Number(new RegExp(`${k}:\\s+(\\d+)`).exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) * 1024;
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 30));
  (globalThis as { gc?: () => void }).gc?.();
  writeFileSync('/proc/self/clear_refs', '5'); // resets VmHWM: only what follows counts
  const base = status('VmRSS');
  analyzeNode(memoryInputs('calibrate', new Map([[name, buf.toString('utf8')]]), [], true), {});
  const real = status('VmHWM') - base;
  const est = estimateCost(buf, s.cls);
  console.log(
    JSON.stringify({
      input: name,
      shape,
      cls: s.cls,
      MB: +(buf.length / 1e6).toFixed(1),
      units: costUnits(buf, s.cls),
      realMB: +(real / 1e6).toFixed(1),
      estimateMB: +(est / 1e6).toFixed(1),
      ratio: +(real / est).toFixed(2),
    }),
  );
}

async function calibrate(): Promise<void> {
  const { spawnSync } = await import('node:child_process');
  let worst = 0;
  let failed = 0;
  for (const [name, s] of Object.entries(SHAPES)) {
    for (let i = 0; i < s.lines.length; i++) {
      const r = spawnSync(
        node,
        [
          '--expose-gc',
          new URL(import.meta.url).pathname,
          '--probe',
          name,
          '--shape',
          String(i),
          '--mib',
          values.mib as string,
        ],
        { encoding: 'utf8' },
      );
      const line = r.stdout.trim();
      if (r.status !== 0 || !line) {
        console.log(JSON.stringify({ input: name, shape: i, error: r.stderr.trim().slice(-500) }));
        failed++;
        continue;
      }
      worst = Math.max(worst, (JSON.parse(line) as { ratio: number }).ratio);
      console.log(line);
    }
  }
  console.log(
    JSON.stringify({ worstRatio: worst, failedProbes: failed, modelHolds: failed === 0 && worst < 1 }),
  );
}

if (values.probe !== undefined) {
  await probe(values.probe, Number(values.shape), Number(values.mib) * MiB);
  process.exit(0);
}
if (values.calibrate) {
  await calibrate();
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'nwdoc-mem-'));
try {
  const want = (s: string): boolean => values.scenario === 'all' || values.scenario === s;
  if (want('bomb')) {
    const f = join(dir, 'bomb.tar.gz');
    writeBomb(f, 70, 64);
    await measure('bomb', f);
  }
  if (want('wide')) {
    const f = join(dir, 'wide.tar.gz');
    writeArchive(f, wideEntries());
    await measure('wide', f);
  }
  if (want('scale')) {
    const s = writeScale(dir);
    await measure('scale', s.archive, ['--cluster-state', s.cluster]);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
