import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_GATE_SETTINGS, GATE_PLUGIN_TYPE, gateEntry } from '../core/boot-gate.ts';
import { replaceFileIfUnchanged } from '../host/atomic-write.ts';
import { parseCniConfig } from '../sources/cni-config.ts';
import { ensureGateInConfDir, removeGateFromConfDir } from './conf-dir.ts';
import { tempDir } from './testing.ts';

const AWS = readFileSync('examples/healthy-node/cni/10-aws.conflist', 'utf8');
const CALICO = readFileSync('examples/cni-conflict/cni/05-calico.conflist', 'utf8');
const ENTRY = gateEntry(DEFAULT_GATE_SETTINGS);

function folder(files: Record<string, string>): string {
  const dir = tempDir('nw-cni-conf-');
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}
const types = (dir: string, file: string): string[] =>
  parseCniConfig({ name: file, content: readFileSync(join(dir, file), 'utf8') }).types as string[];
const leftovers = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.tmp'));

describe('ensureGateInConfDir', () => {
  it('puts the gate last in the file the runtime selects, and only there', async () => {
    const dir = folder({
      '05-broken.conflist': '{"cniVersion":', // invalid: skipped by the runtime, so not selected
      '10-aws.conflist': AWS,
      '20-calico.conflist': CALICO,
      'aws-cni-support.sh': '#!/bin/sh',
    });
    chmodSync(join(dir, '10-aws.conflist'), 0o600);
    expect(await ensureGateInConfDir(dir, ENTRY)).toEqual({
      state: 'installed',
      file: '10-aws.conflist',
      changed: true,
    });
    expect(types(dir, '10-aws.conflist')).toEqual(['aws-cni', 'egress-cni', 'portmap', GATE_PLUGIN_TYPE]);
    expect(readFileSync(join(dir, '20-calico.conflist'), 'utf8')).toBe(CALICO);
    expect(readFileSync(join(dir, '05-broken.conflist'), 'utf8')).toBe('{"cniVersion":');
    expect(statSync(join(dir, '10-aws.conflist')).mode & 0o777).toBe(0o600);
    expect(leftovers(dir)).toEqual([]);
  });

  it('is idempotent, and re-inserts after the CNI daemon rewrote its file', async () => {
    const dir = folder({ '10-aws.conflist': AWS });
    await ensureGateInConfDir(dir, ENTRY);
    const gated = readFileSync(join(dir, '10-aws.conflist'), 'utf8');
    expect(await ensureGateInConfDir(dir, ENTRY)).toEqual({
      state: 'installed',
      file: '10-aws.conflist',
      changed: false,
    });
    expect(readFileSync(join(dir, '10-aws.conflist'), 'utf8')).toBe(gated);
    writeFileSync(join(dir, '10-aws.conflist'), AWS); // aws-node starting again
    expect(await ensureGateInConfDir(dir, ENTRY)).toMatchObject({ state: 'installed', changed: true });
    expect(readFileSync(join(dir, '10-aws.conflist'), 'utf8')).toBe(gated);
  });

  it('follows the selection when a config sorting first appears', async () => {
    const dir = folder({ '10-aws.conflist': AWS });
    await ensureGateInConfDir(dir, ENTRY);
    writeFileSync(join(dir, '05-calico.conflist'), CALICO);
    expect(await ensureGateInConfDir(dir, ENTRY)).toMatchObject({
      file: '05-calico.conflist',
      changed: true,
    });
    expect(types(dir, '05-calico.conflist').at(-1)).toBe(GATE_PLUGIN_TYPE);
  });

  it('declines a single-plugin .conf that the runtime selects', async () => {
    const conf = JSON.stringify({ cniVersion: '0.3.1', name: 'cbr0', type: 'flannel' });
    const dir = folder({ '10-flannel.conf': conf, '20-aws.conflist': AWS });
    const res = await ensureGateInConfDir(dir, ENTRY);
    expect(res).toMatchObject({ state: 'declined', file: '10-flannel.conf' });
    expect(readFileSync(join(dir, '10-flannel.conf'), 'utf8')).toBe(conf);
    expect(readFileSync(join(dir, '20-aws.conflist'), 'utf8')).toBe(AWS);
  });

  it('says when there is no configuration yet', async () => {
    expect(await ensureGateInConfDir(folder({}), ENTRY)).toMatchObject({ state: 'no-config' });
    expect(await ensureGateInConfDir(folder({ '10-x.conflist': 'garbage' }), ENTRY)).toMatchObject({
      state: 'no-config',
    });
  });

  it('throws for a folder it cannot read', async () => {
    await expect(ensureGateInConfDir('/nonexistent/net.d', ENTRY)).rejects.toThrow(
      'CNI configuration folder /nonexistent/net.d: ENOENT',
    );
  });
});

describe('replaceFileIfUnchanged', () => {
  it('leaves a file another writer changed since it was read', async () => {
    const dir = folder({ 'a.conflist': 'new content from the daemon' });
    expect(await replaceFileIfUnchanged(join(dir, 'a.conflist'), 'what we read', 'ours')).toBe(false);
    expect(readFileSync(join(dir, 'a.conflist'), 'utf8')).toBe('new content from the daemon');
    expect(await replaceFileIfUnchanged(join(dir, 'a.conflist'), 'new content from the daemon', 'ours')).toBe(
      true,
    );
    expect(readFileSync(join(dir, 'a.conflist'), 'utf8')).toBe('ours');
    expect(leftovers(dir)).toEqual([]);
  });
});

describe('removeGateFromConfDir', () => {
  it('removes the gate from every file and touches nothing else', async () => {
    const dir = folder({ '10-aws.conflist': AWS, '20-calico.conflist': CALICO, '30-x.conf': '{"type":"x"}' });
    await ensureGateInConfDir(dir, ENTRY);
    writeFileSync(join(dir, '05-calico.conflist'), CALICO);
    await ensureGateInConfDir(dir, ENTRY); // now in 05-calico too
    const res = await removeGateFromConfDir(dir);
    expect(res).toEqual({ changed: ['05-calico.conflist', '10-aws.conflist'], left: [] });
    expect(JSON.parse(readFileSync(join(dir, '10-aws.conflist'), 'utf8'))).toEqual(JSON.parse(AWS));
    expect(readFileSync(join(dir, '20-calico.conflist'), 'utf8')).toBe(CALICO);
    expect(await removeGateFromConfDir(dir)).toEqual({ changed: [], left: [] });
    expect(await removeGateFromConfDir('/nonexistent/net.d')).toEqual({ changed: [], left: [] });
  });
});
