import { describe, expect, it } from 'vitest';
import { execResult } from '../host/testing.ts';
import { countingPrograms, type NodeIo } from './io.ts';

describe('countingPrograms', () => {
  it('reports each program started, by base name, and passes its result through', async () => {
    const streamed: string[] = [];
    const io: NodeIo = {
      exec: async (cmd) => execResult({ stdout: `ran ${cmd}` }),
      execStream: async (_cmd, _args, _opts, onStdout) => {
        onStdout(Buffer.from('*nat\n'));
        return execResult({});
      },
      httpGet: async () => ({ ok: false, error: 'unused', durationMs: 0 }),
      readDir: async () => [],
    };
    const started: string[] = [];
    const counted = countingPrograms(io, (p) => started.push(p));
    expect((await counted.exec('/usr/sbin/ip', ['-j'], { timeoutMs: 1 })).stdout).toBe('ran /usr/sbin/ip');
    await counted.execStream?.('iptables-nft-save', [], { timeoutMs: 1 }, (c) => streamed.push(String(c)));
    await counted.exec('ip', [], { timeoutMs: 1 });
    expect(started).toEqual(['ip', 'iptables-nft-save', 'ip']);
    expect(streamed).toEqual(['*nat\n']);
    expect(counted.httpGet).toBe(io.httpGet);
  });

  it('adds no execStream where the io has none (readers then fall back to exec)', () => {
    const io: NodeIo = {
      exec: async () => execResult({}),
      httpGet: async () => ({ ok: false, error: 'unused', durationMs: 0 }),
      readDir: async () => [],
    };
    expect(countingPrograms(io, () => {}).execStream).toBeUndefined();
  });
});
