/** The streamed full read against real programs: the same state as a whole read, caps and failures as unknown. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { run, runStream } from '../host/exec.ts';
import { readIptablesState } from '../netfilter/iptables-state.ts';
import type { NodeIo } from './io.ts';
import { readIptablesSave } from './kube-proxy.ts';

const fixture = new URL('../netfilter/fixtures/nft-save-small.txt', import.meta.url).pathname;
const io = (withStream: boolean): NodeIo => ({
  exec: (c, a, o) => run(c, a, o),
  ...(withStream ? { execStream: (c, a, o, f) => runStream(c, a, o, f) } : {}),
  httpGet: async () => ({ ok: false, error: 'unused', durationMs: 0 }),
  readDir: async () => [],
});

describe('readIptablesSave streamed from the program', () => {
  it('gives the state a whole read gives, stderr warning included', async () => {
    // `sh -c 'cat FILE; echo … >&2'` stands in for iptables-save: stdout in pieces, a note on stderr.
    const script = `cat "$0"; echo "# Warning: iptables-legacy tables present, use iptables-legacy-save to see them" >&2`;
    const streamed = await readIptablesSave(io(true), 'sh', 10_000, ['-c', script, fixture]);
    const whole = await readIptablesSave(io(false), 'sh', 10_000, ['-c', script, fixture]);
    expect(streamed.status).toBe('ok');
    const expected = readIptablesState(
      `${readFileSync(fixture, 'utf8')}\n# Warning: iptables-legacy tables present\n`,
    );
    for (const r of [streamed, whole]) {
      if (r.status !== 'ok') throw new Error(r.status);
      expect(r.value.summary).toEqual(expected.summary);
      expect([...r.value.serviceChains]).toEqual([...expected.serviceChains]);
      expect(r.value.summary.legacyTablesPresent).toBe(true);
    }
  });

  it('is unknown when the program fails, runs too long or prints more than the cap', async () => {
    const failed = await readIptablesSave(io(true), 'sh', 10_000, ['-c', 'echo boom >&2; exit 3']);
    expect(failed).toMatchObject({ status: 'unknown', reason: 'IptablesSaveUnavailable' });
    const slow = await readIptablesSave(io(true), 'sh', 300, ['-c', 'sleep 5']);
    expect(slow).toMatchObject({ status: 'unknown', reason: 'ReadTimedOut' });
    const big = await runStream('sh', ['-c', 'head -c 100000 /dev/zero'], { maxOutputBytes: 1000 }, () => {});
    expect(big.truncated).toBe(true);
    const missing = await readIptablesSave(io(true), '/nonexistent/iptables-save', 1_000);
    expect(missing).toMatchObject({ status: 'unknown', reason: 'IptablesSaveUnavailable' });
  });
});
