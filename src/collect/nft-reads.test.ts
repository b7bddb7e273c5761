import { describe, expect, it } from 'vitest';
import { type Read, readOk, readUnknown } from '../core/read.ts';
import { execResult } from '../host/testing.ts';
import type { NodeIo } from './io.ts';
import { listsNftablesOnly, NftReads, readNftGeneration, reuseNftRead } from './nft-reads.ts';

/** A listing that counts its calls and returns what `value()` says at that moment. */
function listing(value: () => Read<string>) {
  let calls = 0;
  return {
    read: async () => {
      calls++;
      return value();
    },
    calls: () => calls,
  };
}

const ioAnswering = (stdout: string, code = 0): NodeIo => ({
  exec: async () => execResult({ stdout, code }),
  httpGet: async () => ({ ok: false, error: 'unused', durationMs: 0 }),
  readDir: async () => [],
});

describe('NftReads', () => {
  it('reuses an nftables listing within one generation and lists again when it moves', async () => {
    const reads = new NftReads();
    let rules = 'A';
    const l = listing(() => readOk(rules, 'iptables-nft -S'));
    reads.startRound(7);
    expect(await reads.reuse('iptables-nft-save', 'capture', l.read)).toMatchObject({ value: 'A' });
    rules = 'B'; // a change the kernel would have counted: the next round's generation moves
    reads.startRound(7);
    expect(await reads.reuse('iptables-nft-save', 'capture', l.read)).toMatchObject({ value: 'A' });
    expect(l.calls()).toBe(1);
    reads.startRound(8);
    expect(await reads.reuse('iptables-nft-save', 'capture', l.read)).toMatchObject({ value: 'B' });
    expect(l.calls()).toBe(2);
    expect(reads.takeCounts()).toEqual({ reused: 1, listed: 2 });
    expect(reads.takeCounts()).toEqual({ reused: 0, listed: 0 });
  });

  it('keys listings apart and never reuses legacy or unnamed backends', async () => {
    const reads = new NftReads();
    reads.startRound(1);
    const a = listing(() => readOk('a', 'a'));
    const b = listing(() => readOk('b', 'b'));
    await reads.reuse('nft', 'tables', a.read);
    expect(await reads.reuse('nft', 'chains', b.read)).toMatchObject({ value: 'b' });
    for (const bin of ['iptables-legacy-save', 'iptables-save', 'iptables']) {
      const l = listing(() => readOk(bin, bin));
      await reads.reuse(bin, 'capture', l.read);
      await reads.reuse(bin, 'capture', l.read);
      expect(l.calls()).toBe(2);
    }
  });

  it('reuses nothing while the generation is unknown, and keeps no failed listing', async () => {
    const reads = new NftReads();
    const l = listing(() => readOk('x', 'x'));
    reads.startRound(undefined);
    await reads.reuse('nft', 'tables', l.read);
    await reads.reuse('nft', 'tables', l.read);
    expect(l.calls()).toBe(2);
    reads.startRound(3);
    const failing = listing(() => readUnknown('nft', 'ReadTimedOut', 'slow'));
    await reads.reuse('nft', 'tables', failing.read);
    await reads.reuse('nft', 'tables', failing.read);
    expect(failing.calls()).toBe(2);
  });

  it('drops a listing that finishes after the next round moved the generation', async () => {
    const reads = new NftReads();
    reads.startRound(1);
    let release: () => void = () => {};
    const slow = reads.reuse('nft', 'tables', async () => {
      await new Promise<void>((r) => {
        release = r;
      });
      return readOk('old', 'nft');
    });
    reads.startRound(2);
    release();
    await slow;
    const fresh = listing(() => readOk('new', 'nft'));
    expect(await reads.reuse('nft', 'tables', fresh.read)).toMatchObject({ value: 'new' });
    expect(fresh.calls()).toBe(1);
  });

  it('reuseNftRead without reuse (the doctor, a gated round) always reads', async () => {
    const l = listing(() => readOk('x', 'x'));
    await reuseNftRead(undefined, 'nft', 'tables', l.read);
    await reuseNftRead(undefined, 'nft', 'tables', l.read);
    expect(l.calls()).toBe(2);
  });

  it('knows which binaries list nftables state alone', () => {
    expect(['nft', '/usr/sbin/nft', 'iptables-nft', 'iptables-nft-save'].map(listsNftablesOnly)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(['iptables', 'iptables-save', 'iptables-legacy-save', 'nftables'].some(listsNftablesOnly)).toBe(
      false,
    );
  });
});

describe('readNftGeneration', () => {
  it('reads the generation line, and names bad output or a failed reader', async () => {
    expect(await readNftGeneration(ioAnswering('generation 112\n'), '/bin/g', 1000)).toMatchObject({
      status: 'ok',
      value: 112,
    });
    expect(await readNftGeneration(ioAnswering('gen 1\n'), '/bin/g', 1000)).toMatchObject({
      status: 'unknown',
      reason: 'OutputUnparsable',
    });
    expect(await readNftGeneration(ioAnswering('', 1), '/bin/g', 1000)).toMatchObject({
      status: 'unknown',
      reason: 'CommandFailed',
    });
  });
});
