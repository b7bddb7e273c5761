import { describe, expect, it } from 'vitest';
import { execResult } from '../host/testing.ts';
import { readLegacyTables } from './field.ts';
import type { NodeIo } from './io.ts';

function io(readFile?: NodeIo['readFile']): NodeIo & { execs: string[] } {
  const execs: string[] = [];
  return {
    execs,
    exec: async (cmd, args) => {
      execs.push([cmd, ...args].join(' '));
      return execResult({ code: 1, stderr: 'cat: /proc/net/ip_tables_names: No such file or directory' });
    },
    httpGet: async () => ({ ok: false, error: 'unused', durationMs: 0 }),
    readDir: async () => [],
    ...(readFile ? { readFile } : {}),
  };
}

const fsError = (code: string) => Object.assign(new Error(`${code}: /proc/net/ip_tables_names`), { code });

describe('readLegacyTables', () => {
  it('reads the file in this process when it can: no program runs', async () => {
    const node = io(async () => 'nat\nfilter\n');
    expect(await readLegacyTables(node, 1000)).toMatchObject({ status: 'ok', value: ['nat', 'filter'] });
    expect(node.execs).toEqual([]);
  });

  it('says absent when the file is not there (no legacy module), unknown when it cannot be read', async () => {
    expect(
      await readLegacyTables(
        io(async () => Promise.reject(fsError('ENOENT'))),
        1000,
      ),
    ).toMatchObject({
      status: 'absent',
    });
    expect(
      await readLegacyTables(
        io(async () => Promise.reject(fsError('EACCES'))),
        1000,
      ),
    ).toMatchObject({
      status: 'unknown',
      reason: 'ReadFailed',
    });
  });

  it('falls back to cat where this process does not see the node (the same verdict)', async () => {
    const node = io();
    expect(await readLegacyTables(node, 1000)).toMatchObject({ status: 'absent' });
    expect(node.execs).toEqual(['cat /proc/net/ip_tables_names']);
  });
});
