import { describe, expect, it } from 'vitest';
import type { ExecResult } from '../host/exec.ts';
import { execResult } from '../host/testing.ts';
import type { NodeIo } from './io.ts';
import { ipStateOnce, readIpState, splitBatchOutput } from './pods.ts';

// Real iproute2 6.1 output (`ip -4 -j -batch -` of the three lines, in a namespace with one veth pair; trimmed).
const RULES = '[{"priority":0,"src":"all","table":"local"},{"priority":32766,"src":"all","table":"main"}]';
const ROUTES =
  '[{"type":"local","dst":"10.9.9.9","dev":"v1","table":"local","protocol":"kernel","scope":"host","prefsrc":"10.9.9.9","flags":[]}]';
const LINKS =
  '[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK"],"mtu":65536,"qdisc":"noop","operstate":"DOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00"}]';

/** A node whose `ip` answers the batch with `batch` and each single listing from `single`. */
function io(
  batch: Partial<ExecResult>,
  single: Record<string, Partial<ExecResult>> = {},
): NodeIo & { calls: { line: string; input?: string }[] } {
  const calls: { line: string; input?: string }[] = [];
  return {
    calls,
    exec: async (cmd, args, opts) => {
      const line = [cmd, ...args].join(' ');
      calls.push({ line, ...(opts.input !== undefined ? { input: opts.input } : {}) });
      if (line === 'ip -4 -j -batch -') return execResult(batch);
      return execResult(single[line] ?? { code: 1, stderr: 'not faked' });
    },
    httpGet: async () => ({ ok: false, error: 'unused', durationMs: 0 }),
    readDir: async () => [],
  };
}

const SINGLE = {
  'ip -j -4 rule show': { stdout: RULES },
  'ip -j -4 route show table all': { stdout: ROUTES },
  'ip -j link show': { stdout: LINKS },
};

describe('readIpState', () => {
  it('lists rules, routes and links with one `ip` batch', async () => {
    const node = io({ stdout: `${RULES}\n${ROUTES}\n${LINKS}\n` });
    const s = await readIpState(node, 1000);
    expect(node.calls).toEqual([
      { line: 'ip -4 -j -batch -', input: 'rule show\nroute show table all\nlink show\n' },
    ]);
    expect(s.rules).toMatchObject({ status: 'ok', source: 'ip -4 -j -batch - (rule show)' });
    expect(s.rules.status === 'ok' && s.rules.value.map((r) => r.priority)).toEqual([0, 32766]);
    expect(s.routes.status === 'ok' && s.routes.value.map((r) => r.dst)).toEqual(['10.9.9.9']);
    expect(s.links.status === 'ok' && s.links.value.map((l) => l.ifname)).toEqual(['lo']);
  });

  it('a part that does not parse is unknown on its own; the others stand', async () => {
    const s = await readIpState(io({ stdout: `${RULES}\n[{"dst"\n${LINKS}\n` }), 1000);
    expect(s.rules.status).toBe('ok');
    expect(s.routes).toMatchObject({ status: 'unknown', reason: 'OutputUnparsable' });
    expect(s.links.status).toBe('ok');
  });

  it('lists one by one when the batch fails or prints something else, each with its own answer', async () => {
    for (const batch of [
      { code: 1, stderr: 'Command failed -:2' },
      { stdout: `${RULES}\n${ROUTES}\n` }, // stopped after two
      { stdout: `${RULES}${ROUTES}${LINKS}\n` }, // not one per line
    ]) {
      const node = io(batch, { ...SINGLE, 'ip -j link show': { code: 1, stderr: 'Error: EPERM' } });
      const s = await readIpState(node, 1000);
      expect(node.calls.map((c) => c.line)).toEqual([
        'ip -4 -j -batch -',
        'ip -j -4 rule show',
        'ip -j -4 route show table all',
        'ip -j link show',
      ]);
      expect(s.rules).toMatchObject({ status: 'ok', source: 'ip -j -4 rule show' });
      expect(s.routes.status).toBe('ok');
      expect(s.links).toMatchObject({ status: 'unknown', reason: 'CommandFailed' });
    }
  });

  it('a batch that timed out is not retried: all three are unknown', async () => {
    const node = io({ timedOut: true, code: null }, SINGLE);
    const s = await readIpState(node, 1000);
    expect(node.calls).toHaveLength(1);
    for (const r of [s.rules, s.routes, s.links])
      expect(r).toMatchObject({ status: 'unknown', reason: 'ReadTimedOut' });
  });
});

describe('ipStateOnce', () => {
  it('lists once and shares the answer with every later caller', async () => {
    const node = io({ stdout: `${RULES}\n${ROUTES}\n${LINKS}\n` });
    const shared = ipStateOnce(node, 1000);
    const [a, b] = await Promise.all([shared(), shared()]);
    expect(a).toBe(b);
    expect(await shared()).toBe(a);
    expect(node.calls).toHaveLength(1);
  });
});

describe('splitBatchOutput', () => {
  it('wants exactly n non-empty lines, each a JSON array', () => {
    expect(splitBatchOutput('[]\n\n[1]\n', 2)).toEqual(['[]', '[1]']);
    expect(() => splitBatchOutput('[]\n', 2)).toThrow(/expected 2 JSON lines, got 1/);
    expect(() => splitBatchOutput('[]\n{}\n', 2)).toThrow(/line 2 is not a JSON array/);
  });
});
