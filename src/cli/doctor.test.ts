import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type MeasuredRun,
  runMeasured,
  TAR_END,
  tarEntry,
  tarHeader,
  tarPadding,
} from '../doctor/testing.ts';
import { isNetwardenError } from '../errors.ts';
import { type DoctorFlags, runDoctor } from './doctor.ts';

const root = new URL('../../', import.meta.url).pathname;
const examples = `${root}examples/`;
const flags = (f: Partial<DoctorFlags>): DoctorFlags => ({ proxyMode: 'auto', output: 'text', ...f });

describe('runDoctor', () => {
  it('exit 0 on the healthy sample, exit 1 on a broken one', async () => {
    const ok = await runDoctor(
      flags({ bundle: `${examples}healthy-node`, clusterState: `${examples}cluster-state.json` }),
    );
    expect(ok.exitCode).toBe(0);
    expect(ok.output).toContain('0 critical, 0 warning');
    const bad = await runDoctor(flags({ bundle: `${examples}rebooted-node-broken`, output: 'json' }));
    expect(bad.exitCode).toBe(1);
    expect(JSON.parse(bad.output).summary.critical).toBeGreaterThan(0);
  });

  it.each<[string, Partial<DoctorFlags>, string]>([
    ['no mode', {}, 'usage'],
    ['both modes', { live: true, bundle: 'x' }, 'usage'],
    ['bad output format', { bundle: 'x', output: 'yaml' }, 'usage'],
    ['bad proxy mode', { bundle: 'x', proxyMode: 'ipvs' }, 'usage'],
    ['kubeconfig without live', { bundle: 'x', kubeconfig: 'k' }, 'usage'],
    ['nonsense bundle', { bundle: '/etc/hostname' }, 'input-unreadable'],
    ['missing bundle', { bundle: '/nonexistent/bundle' }, 'input-unreadable'],
    [
      'nonsense cluster state',
      { bundle: `${examples}healthy-node`, clusterState: '/etc/hostname' },
      'input-unreadable',
    ],
  ])('%s → %s (exit 2)', async (_n, f, code) => {
    try {
      await runDoctor(flags(f));
      expect.unreachable();
    } catch (err) {
      expect(isNetwardenError(err, code as 'usage')).toBe(true);
      expect((err as Error).message).not.toContain('\n');
    }
  });
});

describe('netwarden doctor as a process (main.ts needs the project Node.js)', () => {
  const node = `${root}node_modules/.bin/node`;
  const main = `${root}src/cli/main.ts`;
  const work = mkdtempSync(join(tmpdir(), 'nwdoc-cli-test-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  // As root, "permission denied" needs another user: the child runs as nobody.
  const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const doctor = (args: string[], opts: Parameters<typeof runMeasured>[2] = {}) =>
    runMeasured(node, [main, 'doctor', ...args], { env: { ...process.env, NO_COLOR: '1' }, ...opts });
  const file = (name: string, content: string | Buffer, mode?: number): string => {
    const p = join(work, name);
    writeFileSync(p, content);
    if (mode !== undefined) chmodSync(p, mode);
    return p;
  };

  it('exit 0 when clean, 1 on findings', async () => {
    const [clean, findings] = await Promise.all([
      doctor(['--bundle', `${examples}healthy-node`, '--cluster-state', `${examples}cluster-state.json`]),
      doctor(['--bundle', `${examples}backend-mismatch.tar.gz`, '-o', 'markdown']),
    ]);
    expect([clean.code, clean.stderr]).toEqual([0, '']);
    expect(clean.stdout).toContain('0 critical, 0 warning');
    expect(findings.code).toBe(1);
    expect(findings.stdout).toContain('`iptables-backend-mismatch`');
  }, 30_000);

  it('exit 2 with one line naming the input and the problem when the bundle cannot be read', async () => {
    const tar = gzipSync(Buffer.concat([tarEntry('b/networking/iprule.txt', 'x\n'.repeat(50_000)), TAR_END]));
    const cases: [string, Promise<MeasuredRun>, RegExp][] = [
      ['not found', doctor(['--bundle', join(work, 'nope')]), /: no such file or directory$/],
      [
        'permission denied',
        doctor(['--bundle', file('secret.tar.gz', tar, 0o000)], asNobody),
        /: permission denied$/,
      ],
      [
        'not a tar',
        doctor(['--bundle', file('notes.txt', 'hello\n'.repeat(100))]),
        /: not a tar archive \(bad header checksum\)$/,
      ],
      [
        'corrupt gzip',
        doctor(['--bundle', file('cut.tar.gz', tar.subarray(0, tar.length / 2))]),
        /: corrupt gzip or tar \(unexpected end of file\)$/,
      ],
      ['not a directory or file', doctor(['--bundle', '/dev/null']), /: not a directory or a regular file$/],
    ];
    for (const [what, run, problem] of cases) {
      const r = await run;
      expect([what, r.code, r.stdout]).toEqual([what, 2, '']);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^netwarden: --bundle \S+: /);
      expect(lines[0]).toMatch(problem);
    }
  }, 30_000);

  it("the issue's gzip bomb (4.6 MB of 70 × 64 MiB entries) ends in a clear error with memory bounded", async () => {
    const body = Buffer.alloc(64 * 1024 * 1024, 0x0a);
    const member = gzipSync(
      Buffer.concat([
        tarHeader('eks_i-1/networking/iptables-save.txt', body.length),
        body,
        tarPadding(body.length),
      ]),
      { level: 9 },
    );
    const bomb = Buffer.concat([...Array.from({ length: 70 }, () => member), gzipSync(TAR_END)]);
    expect(bomb.length).toBeLessThan(5e6);
    const r = await doctor(['--bundle', file('bomb.tar.gz', bomb)], { killAboveMb: 1024 });
    expect(r.killed).toBe(false);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(
      /^netwarden: --bundle \S+bomb\.tar\.gz: gzip inflates more than 200:1 .*decompression bomb$/,
    );
    expect(r.peakRssMb).toBeLessThanOrEqual(300);
  }, 60_000);

  it('costly inputs within their size limits end in notes, with memory bounded', async () => {
    // Each input in the shape that costs its parser most (bench/doctor-bundle-memory.ts --calibrate).
    const lines = (make: (i: number) => string, bytes: number): Buffer => {
      const parts: string[] = [];
      for (let i = 0, n = 0; n < bytes; i++) {
        parts.push(make(i));
        n += (parts[i] as string).length;
      }
      return Buffer.from(parts.join(''));
    };
    const MiB = 1024 * 1024;
    const entries: [string, Buffer][] = [
      ['kube-proxy/metrics.txt', lines((i) => `a{b${i}="",c="",d=""} 1\n`, 2.8 * MiB)],
      [
        'var_log/aws-routed-eni/ipamd.log',
        lines((i) => `{"level":"error","msg":"failed to assign ${i}"}\n`, 20 * MiB),
      ],
      [
        'networking/iptables-save.txt',
        Buffer.concat([
          Buffer.from('*nat\n'),
          lines(
            (i) =>
              `-A KUBE-SERVICES -d 10.0.${(i >> 8) & 255}.${i & 255}/32 -p tcp -m comment --comment "ns/svc-${i}:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-${i}\n`,
            30 * MiB,
          ),
          Buffer.from('COMMIT\n'),
        ]),
      ],
      [
        'ipamd/pods.json',
        Buffer.concat([
          Buffer.from('{'),
          lines((i) => `"p${i}":{"IP":"10.0.0.1","DeviceNumber":0},`, 7 * MiB),
          Buffer.from('"z":{}}'),
        ]),
      ],
    ];
    const archive = Buffer.concat([
      ...entries.map(([name, body]) => gzipSync(tarEntry(`eks_i-1/${name}`, body), { level: 1 })),
      gzipSync(TAR_END),
    ]);
    const r = await doctor(['--bundle', file('costly.tar.gz', archive), '-o', 'json'], { killAboveMb: 1024 });
    expect(r.killed).toBe(false);
    expect(r.stderr).toBe('');
    const doc = JSON.parse(r.stdout);
    const notes: string[] = doc.findings.find(
      (f: { code: string }) => f.code === 'input-parse-warnings',
    ).evidence;
    expect(notes).toContainEqual(
      expect.stringMatching(
        /^networking\/iptables-save\.txt \(31\.5 MB\): not read: parsing needs more than 2\d\d\.\d MB, .* \(it needs --max-memory \d+ or more\)$/,
      ),
    );
    expect(notes).toContainEqual(
      expect.stringMatching(/^ipamd\/pods\.json \(7\.3 MB\): not read: parsing needs/),
    );
    expect(notes).toContainEqual(
      expect.stringMatching(/^var_log\/aws-routed-eni\/ipamd\.log: only the last .* read \(memory budget\)$/),
    );
    expect(doc.inputs.found).toContain('kube-proxy/metrics.txt');
    expect(r.peakRssMb).toBeLessThanOrEqual(300);
  }, 60_000);
});
