import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
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

describe('bin/netwarden doctor (child process: main.ts needs the project Node.js)', () => {
  const cli = (args: string[]) =>
    new Promise<{ code: number; out: string; err: string }>((resolve) => {
      execFile(
        `${root}bin/netwarden`,
        ['doctor', ...args],
        { env: { ...process.env, NO_COLOR: '1' } },
        (error, out, err) => resolve({ code: error ? Number(error.code) : 0, out, err }),
      );
    });

  it('maps results to exit codes 1 and 2 with one clear line', async () => {
    const [bad, nonsense] = await Promise.all([
      cli(['--bundle', `${examples}backend-mismatch.tar.gz`, '-o', 'markdown']),
      cli(['--bundle', '/etc/hostname']),
    ]);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain('`iptables-backend-mismatch`');
    expect(nonsense.code).toBe(2);
    expect(nonsense.out).toBe('');
    expect(nonsense.err.trim().split('\n')).toEqual([
      expect.stringMatching(/^netwarden: --bundle \/etc\/hostname: /),
    ]);
  }, 30_000);
});
