import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installPluginBinary, pluginPath, removePluginBinary } from './binary.ts';
import { tempDir } from './testing.ts';

describe('plugin binary', () => {
  it('copies the plugin executable once, replaces a different one, removes it', async () => {
    const dir = tempDir('nw-cni-bin-');
    const src = join(dir, 'source');
    writeFileSync(src, 'v1');
    const bin = join(dir, 'opt/cni/bin');
    expect(await installPluginBinary(src, bin)).toBe('installed');
    expect(readFileSync(pluginPath(bin), 'utf8')).toBe('v1');
    expect(statSync(pluginPath(bin)).mode & 0o777).toBe(0o755);
    expect(await installPluginBinary(src, bin)).toBe('unchanged');
    writeFileSync(src, 'v2');
    expect(await installPluginBinary(src, bin)).toBe('installed');
    expect(readFileSync(pluginPath(bin), 'utf8')).toBe('v2');
    await removePluginBinary(bin);
    await removePluginBinary(bin);
    expect(() => statSync(pluginPath(bin))).toThrow(/ENOENT/);
  });

  it('names the missing source and the flag', async () => {
    await expect(installPluginBinary('/nonexistent/netwarden-cni-gate', '/tmp')).rejects.toThrow(
      /boot gate plugin \/nonexistent\/netwarden-cni-gate: .*ENOENT.*--boot-gate-plugin/,
    );
  });
});
