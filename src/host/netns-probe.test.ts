import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pod } from '../core/objects.ts';
import { type ClusterProbeConfig, type ProbePlan, podProbePlan } from '../core/probe-plan.ts';
import { type ExecResult, run } from './exec.ts';
import { type NetnsLocation, netnsLocationAt } from './netns-locator.ts';
import { type NetnsExec, nsenterExec, probeNetns, probePods, probeResultFromExec } from './netns-probe.ts';
import { execResult } from './testing.ts';

const UID = '1c3e5f4a-2b6d-4c8e-9f10-123456789abc';

const cfg: ClusterProbeConfig = {
  dnsServer: '10.96.0.10',
  clusterDomain: 'cluster.local',
  kubernetesService: { host: '10.96.0.1', port: 443 },
  timeoutMs: 2_000,
};
const podWith = (ns: string, targets?: string): Pod =>
  ({
    metadata: {
      namespace: ns,
      name: 'p',
      uid: UID,
      ...(targets ? { annotations: { 'netwarden.dev/probe-targets': targets } } : {}),
    },
  }) as Pod;

describe('probeResultFromExec', () => {
  const plan: ProbePlan = podProbePlan(podWith('app'), cfg).plan;
  const res = (o: Partial<ExecResult>): ExecResult => execResult({ durationMs: 120, ...o });
  const results = (dnsOk: boolean, tcpOk: boolean) =>
    `${JSON.stringify({
      results: [
        { key: 'dns:kubernetes.default.svc.cluster.local', ok: dnsOk, detail: 'dns detail' },
        { key: 'tcp:10.96.0.1:443', ok: tcpOk, detail: 'tcp detail' },
      ],
    })}\n`;
  const cases: { name: string; r: ExecResult; want: string }[] = [
    { name: 'all ok', r: res({ stdout: results(true, true) }), want: 'ok ProbeOk 2 check(s) ok' },
    {
      name: 'a check fails',
      r: res({ stdout: results(true, false) }),
      want: 'failing ProbeFailing tcp detail',
    },
    {
      name: 'namespace changed',
      r: res({ code: 3, stdout: '{"error":"in net:[1], expected net:[2]"}\n' }),
      want: 'unknown NetnsChanged namespace changed: in net:[1], expected net:[2]',
    },
    {
      name: 'nsenter cannot open the namespace',
      r: res({ code: 1, stderr: 'nsenter: cannot open /proc/4242/ns/net: No such file or directory\n' }),
      want: 'unknown ProbeDidNotRun nsenter: cannot open /proc/4242/ns/net: No such file or directory',
    },
    {
      name: 'killed at the deadline',
      r: res({ code: null, signal: 'SIGKILL', timedOut: true, durationMs: 7000 }),
      want: 'unknown ProbeDidNotRun probe killed after 7000 ms',
    },
    {
      name: 'a result missing',
      r: res({ stdout: '{"results":[]}' }),
      want: 'unknown ProbeOutputInvalid no result for dns:kubernetes.default.svc.cluster.local',
    },
    {
      name: 'child crashed with JSON',
      r: res({ code: 4, stdout: '{"error":"TypeError: x\\n  at y"}' }),
      want: 'unknown ProbeOutputInvalid TypeError: x',
    },
    {
      name: 'garbage',
      r: res({ stdout: 'Segmentation fault' }),
      want: 'unknown ProbeDidNotRun exit 0, no output',
    },
  ];
  it.each(cases)('$name', ({ r, want }) => {
    const out = probeResultFromExec(plan, r);
    expect(`${out.status} ${out.reason} ${out.detail}`).toBe(want);
  });

  it('carries the core flag of each check from the plan', () => {
    const out = probeResultFromExec(plan, res({ stdout: results(false, true) }));
    expect(out.checks.map((c) => [c.key, c.ok, c.core])).toEqual([
      ['dns:kubernetes.default.svc.cluster.local', false, true],
      ['tcp:10.96.0.1:443', true, true],
    ]);
  });
});

/**
 * A DNS (UDP) and TCP server for the tests, run as its own Node process (so it can be started
 * inside a namespace too). Config: host, dnsPort, tcpPort (0 = any), answers: name → IPv4 |
 * NXDOMAIN | SERVFAIL | NODATA | DROP (default NXDOMAIN). Prints its ports as one JSON line.
 */
const FAKE_SERVER = String.raw`'use strict';
const dgram = require('node:dgram');
const net = require('node:net');
const cfg = JSON.parse(process.argv[1]);
const udp = dgram.createSocket('udp4');
udp.on('message', (buf, rinfo) => {
  const labels = []; let off = 12;
  while (buf[off] !== 0) { labels.push(buf.subarray(off + 1, off + 1 + buf[off]).toString('ascii')); off += buf[off] + 1; }
  const a = cfg.answers[labels.join('.')] || 'NXDOMAIN';
  if (a === 'DROP') return;
  const rcode = a === 'NXDOMAIN' ? 3 : a === 'SERVFAIL' ? 2 : 0;
  const hdr = Buffer.from(buf.subarray(0, off + 5));
  hdr[2] = 0x81; hdr[3] = 0x80 | rcode; hdr.writeUInt16BE(0, 8); hdr.writeUInt16BE(0, 10);
  const withA = rcode === 0 && a !== 'NODATA';
  hdr.writeUInt16BE(withA ? 2 : 0, 6);
  const cname = Buffer.from([0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 30, 0, 2, 0xc0, 12]);
  const ans = withA ? Buffer.concat([cname, Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, ...a.split('.').map(Number)])]) : Buffer.alloc(0);
  udp.send(Buffer.concat([hdr, ans]), rinfo.port, rinfo.address);
});
udp.bind(cfg.dnsPort, cfg.host, () => {
  const tcp = net.createServer((s) => s.end());
  tcp.listen(cfg.tcpPort, cfg.host, () => process.stdout.write(JSON.stringify({ dnsPort: udp.address().port, tcpPort: tcp.address().port }) + '\n'));
});
`;

interface FakeServer {
  readonly proc: ChildProcess;
  readonly dnsPort: number;
  readonly tcpPort: number;
}

/** Starts FAKE_SERVER with `prefix` (e.g. `ip netns exec X`) and waits for its ports. */
function startFakeServer(prefix: string[], conf: object): Promise<FakeServer> {
  const argv = [...prefix, process.execPath, '-e', FAKE_SERVER, JSON.stringify(conf)];
  const proc = spawn(argv[0] ?? '', argv.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '' },
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`fake server did not start: ${err}`)), 5_000);
    proc.stderr?.on('data', (b: Buffer) => {
      err += b.toString();
    });
    proc.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (!out.includes('\n')) return;
      clearTimeout(timer);
      resolve({ proc, ...(JSON.parse(out) as { dnsPort: number; tcpPort: number }) });
    });
    proc.on('exit', (code) => reject(new Error(`fake server exited ${code}: ${err}`)));
  });
}

function stopProc(proc: ChildProcess | undefined): void {
  if (proc?.pid !== undefined && proc.exitCode === null) proc.kill('SIGKILL');
}

/** A port nothing listens on (bound once, then closed). */
async function closedPort(): Promise<number> {
  const s: Server = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('probeNetns: the child program, run in this process namespace', () => {
  // No namespace switch: `exec` runs the child directly, so this needs no privileges.
  const direct: NetnsExec = (_path, argv, opts) => run(argv[0] ?? '', argv.slice(1), opts);
  let server: FakeServer | undefined;
  let self: NetnsLocation;
  beforeAll(async () => {
    server = await startFakeServer([], {
      host: '127.0.0.1',
      dnsPort: 0,
      tcpPort: 0,
      answers: {
        'kubernetes.default.svc.cluster.local': '10.96.0.1',
        'vault.vault.svc.cluster.local': '127.0.0.1',
        'flaky.app.svc.cluster.local': 'SERVFAIL',
        'slow.app.svc.cluster.local': 'DROP',
        'nodata.app.svc.cluster.local': 'NODATA',
        'nodata.svc.cluster.local': '127.0.0.1',
      },
    });
    const loc = await netnsLocationAt('/proc/self/ns/net', 'self');
    if (!loc) throw new Error('no /proc/self/ns/net');
    self = loc;
  });
  afterAll(() => stopProc(server?.proc));

  function localPlan(targets: string, timeoutMs = 1_500): ProbePlan {
    const c = {
      ...cfg,
      dnsServer: '127.0.0.1',
      dnsPort: server?.dnsPort ?? 0,
      timeoutMs,
      kubernetesService: { host: '127.0.0.1', port: server?.tcpPort ?? 0 },
      // The test's servers are on loopback, which pods' targets may only name when allowed.
      allowSpecialTargets: true,
    };
    return podProbePlan(podWith('app', targets), c).plan;
  }

  it('resolves through the DNS server of the plan, follows the search list, connects', async () => {
    const port = server?.tcpPort ?? 0;
    const r = await probeNetns(self, localPlan(`vault.vault.svc:${port},nodata:${port}`), { exec: direct });
    expect(r.reason).toBe('ProbeOk');
    expect(r.checks.map((c) => c.detail.replace(/\d+ ms/, 'N ms'))).toEqual([
      'kubernetes.default.svc.cluster.local -> 10.96.0.1 via 127.0.0.1 in N ms',
      `connected to 127.0.0.1:${port} in N ms`,
      `connected to vault.vault.svc:${port} (vault.vault.svc.cluster.local 127.0.0.1) in N ms`,
      `connected to nodata:${port} (nodata.svc.cluster.local 127.0.0.1) in N ms`,
    ]);
  });

  it('reports refused connections, SERVFAIL, unknown names and unanswered queries as failing checks', async () => {
    const closed = await closedPort();
    const r = await probeNetns(self, localPlan(`127.0.0.1:${closed},flaky:80,missing:80,slow:80`, 600), {
      exec: direct,
    });
    expect(r.status).toBe('failing');
    const byKey = Object.fromEntries(r.checks.map((c) => [c.key, c.detail.replace(/\d+ ms/g, 'N ms')]));
    expect(byKey).toMatchObject({
      [`tcp:127.0.0.1:${closed}`]: `connect 127.0.0.1:${closed}: ECONNREFUSED after N ms`,
      'tcp:flaky:80@app': expect.stringMatching(
        /^connect flaky:80: DNS flaky\.app\.svc\.cluster\.local via 127\.0\.0\.1:\d+: SERVFAIL/,
      ),
      'tcp:missing:80@app': expect.stringContaining(
        'missing.app.svc.cluster.local, missing.svc.cluster.local, missing.cluster.local, missing via',
      ),
      'tcp:slow:80@app': expect.stringMatching(
        /slow\.app\.svc\.cluster\.local via .*: no answer after N ms$/,
      ),
    });
    expect(r.checks.filter((c) => c.ok).map((c) => c.key)).toEqual([
      'dns:kubernetes.default.svc.cluster.local',
      `tcp:127.0.0.1:${server?.tcpPort}`,
    ]);
  });

  it('refuses to report on a namespace other than the one located', async () => {
    const r = await probeNetns({ ...self, netnsId: 'net:[1]' }, localPlan(''), { exec: direct });
    expect(r).toMatchObject({ status: 'unknown', reason: 'NetnsChanged' });
  });

  it('is unknown, not failing, when the probe cannot start', async () => {
    const noBinary = await probeNetns(self, localPlan(''), { exec: direct, nodeBinary: '/nonexistent/node' });
    expect(noBinary).toMatchObject({ status: 'unknown', reason: 'ProbeDidNotRun' });
    const noNetns = await probeNetns(
      { path: '/nonexistent/ns/net', netnsId: 'net:[1]', via: 'x' },
      localPlan(''),
      { exec: nsenterExec },
    );
    expect(noNetns).toMatchObject({ status: 'unknown', reason: 'ProbeDidNotRun' });
    expect(noNetns.detail).toMatch(/nsenter|cannot run/);
  });
});

describe('probePods', () => {
  it('runs at most `concurrency` probes at once and marks pods without a namespace NetnsNotFound', async () => {
    let running = 0;
    let peak = 0;
    const slow: NetnsExec = async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 15));
      running--;
      return {
        code: 0,
        signal: null,
        stdout: '{"results":[]}',
        stderr: '',
        timedOut: false,
        truncated: false,
        durationMs: 15,
      };
    };
    const plan: ProbePlan = {
      dns: { server: '10.96.0.10', port: 53 },
      timeoutMs: 100,
      checks: [],
      refusePrefixes: [],
    };
    const pods = Array.from({ length: 9 }, (_, i) => ({ uid: `u${i}`, plan }));
    const locations = new Map(
      pods.slice(0, 8).map((p) => [p.uid, { path: `/x/${p.uid}`, netnsId: 'net:[1]', via: 'test' }]),
    );
    const out = await probePods(pods, locations, { exec: slow, concurrency: 3 });
    expect(peak).toBe(3);
    expect(out.size).toBe(9);
    expect(out.get('u0')?.reason).toBe('ProbeOk');
    expect(out.get('u8')).toMatchObject({ status: 'unknown', reason: 'NetnsNotFound' });
  });
});

// ─── inside real, private network namespaces (root only) ─────────────────────────────────

const isRoot = process.getuid?.() === 0;
if (!isRoot) {
  console.warn('netns-probe: skipping the network-namespace tests: they need root (ip netns add, nsenter)');
}

describe.skipIf(!isRoot)('probeNetns in a private network namespace (root)', () => {
  // Two namespaces of our own joined by a veth pair; nothing touches the host's interfaces,
  // routes or firewall. Addresses from TEST-NET-1 (192.0.2.0/24), private to these namespaces.
  const tag = randomBytes(3).toString('hex');
  const podNs = `nwprobe-${tag}-pod`;
  const svcNs = `nwprobe-${tag}-svc`;
  let server: FakeServer | undefined;
  let hostListener: Server | undefined;
  let hostPort = 0;

  const ip = async (...args: string[]): Promise<void> => {
    const r = await run('ip', args, { timeoutMs: 10_000 });
    if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
  };

  beforeAll(async () => {
    await ip('netns', 'add', podNs);
    await ip('netns', 'add', svcNs);
    // created inside the pod namespace, peer moved straight into the service namespace
    await ip('-n', podNs, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', svcNs);
    await ip('-n', podNs, 'addr', 'add', '192.0.2.1/24', 'dev', 'eth0');
    await ip('-n', svcNs, 'addr', 'add', '192.0.2.2/24', 'dev', 'eth0');
    for (const ns of [podNs, svcNs]) {
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      await ip('-n', ns, 'link', 'set', 'eth0', 'up');
    }
    server = await startFakeServer(['ip', 'netns', 'exec', svcNs], {
      host: '192.0.2.2',
      dnsPort: 53,
      tcpPort: 8080,
      answers: {
        'kubernetes.default.svc.cluster.local': '192.0.2.2',
        'vault.vault.svc.cluster.local': '192.0.2.2',
      },
    });
    // a listener in the host namespace: the probe must NOT reach it from the pod namespace
    hostListener = createServer((s) => s.end());
    await new Promise<void>((r) => hostListener?.listen(0, '127.0.0.1', r));
    hostPort = (hostListener.address() as { port: number }).port;
  }, 30_000);

  afterAll(async () => {
    stopProc(server?.proc);
    await new Promise<void>((r) => (hostListener ? hostListener.close(() => r()) : r()));
    // deleting a namespace destroys the veth pair in it
    await run('ip', ['netns', 'del', podNs], { timeoutMs: 10_000 });
    await run('ip', ['netns', 'del', svcNs], { timeoutMs: 10_000 });
  });

  it('probes from inside the namespace with nsenter: DNS and TCP via the veth, not the host', async () => {
    const loc = await netnsLocationAt(`/var/run/netns/${podNs}`, podNs);
    if (!loc) throw new Error('namespace not created');
    const c: ClusterProbeConfig = {
      dnsServer: '192.0.2.2',
      clusterDomain: 'cluster.local',
      kubernetesService: { host: '192.0.2.2', port: 8080 },
      timeoutMs: 800,
      // allowed here: the test shows loopback in the pod's namespace is the pod's, not the host's
      allowSpecialTargets: true,
    };
    const { plan } = podProbePlan(
      podWith('app', `vault.vault.svc:8080,192.0.2.2:9,192.0.2.99:80,127.0.0.1:${hostPort}`),
      c,
    );
    const r = await probeNetns(loc, plan);
    const ok = Object.fromEntries(r.checks.map((x) => [x.key, x.ok]));
    expect(ok).toEqual({
      'dns:kubernetes.default.svc.cluster.local': true,
      'tcp:192.0.2.2:8080': true,
      'tcp:vault.vault.svc:8080@app': true,
      'tcp:192.0.2.2:9': false,
      'tcp:192.0.2.99:80': false,
      [`tcp:127.0.0.1:${hostPort}`]: false,
    });
    expect(r.checks.find((x) => x.key === 'tcp:192.0.2.2:9')?.detail).toContain('ECONNREFUSED');
    expect(r.checks.find((x) => x.key === `tcp:127.0.0.1:${hostPort}`)?.detail).toContain('ECONNREFUSED');
  }, 20_000);
});
