import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_GATE_SETTINGS, GATE_FILES, GATE_PLUGIN_TYPE } from '../core/boot-gate.ts';
import { BOOT_ID_ANNOTATION, READY_AT_ANNOTATION } from '../core/gate.ts';
import type { Node } from '../core/objects.ts';
import { parseCniConfig } from '../sources/cni-config.ts';
import { BootGate } from './boot-gate.ts';
import { tempDir } from './testing.ts';

const AWS = readFileSync('examples/healthy-node/cni/10-aws.conflist', 'utf8');
const BOOT = 'b00710d0-0000-4000-8000-000000000001';

function setup(root = tempDir('nw-boot-gate-'), pluginSource = join(root, 'plugin')) {
  const confDir = join(root, 'etc/cni/net.d');
  mkdirSync(confDir, { recursive: true });
  writeFileSync(join(confDir, '10-aws.conflist'), AWS);
  writeFileSync(join(root, 'boot_id'), `${BOOT}\n`);
  writeFileSync(join(root, 'plugin'), 'the plugin bytes');
  const registry = new Registry();
  const gate = new BootGate({
    settings: { ...DEFAULT_GATE_SETTINGS, stateDir: join(root, 'run'), bootIdFile: join(root, 'boot_id') },
    folders: { confDir, binDir: join(root, 'opt/cni/bin') },
    pluginSource,
    log: pino({ level: 'silent' }),
    registry,
    rescanMs: 200,
    debounceMs: 10,
  });
  const lastType = (): string | undefined =>
    parseCniConfig({
      name: '10-aws.conflist',
      content: readFileSync(join(confDir, '10-aws.conflist'), 'utf8'),
    }).types.at(-1);
  return { root, confDir, gate, registry, lastType };
}

const nodeWith = (annotations: Record<string, string>, bootID = BOOT): Node => ({
  metadata: { name: 'node-1', annotations },
  status: { nodeInfo: { bootID } } as NonNullable<Node['status']>,
});

let stopping: BootGate | undefined;
afterEach(async () => {
  await stopping?.stop();
  stopping = undefined;
});

describe('BootGate', () => {
  it('installs the plugin and the conflist entry, heartbeats, and re-inserts after a rewrite', async () => {
    const { root, confDir, gate, registry, lastType } = setup();
    stopping = gate;
    await gate.start();
    expect(readFileSync(join(root, 'opt/cni/bin', GATE_PLUGIN_TYPE), 'utf8')).toBe('the plugin bytes');
    expect(lastType()).toBe(GATE_PLUGIN_TYPE);
    expect(JSON.parse(readFileSync(join(root, 'run', GATE_FILES.heartbeat), 'utf8'))).toMatchObject({
      bootId: BOOT,
    });
    expect(gate.status()).toMatchObject({ conf: { state: 'installed' }, bootId: BOOT, verified: false });
    writeFileSync(join(confDir, '10-aws.conflist'), AWS); // aws-node restarts and rewrites its file
    const bounded = { timeout: 5_000, interval: 20 };
    await vi.waitFor(() => expect(lastType()).toBe(GATE_PLUGIN_TYPE), bounded);
    await vi.waitFor(
      async () =>
        expect(await registry.getSingleMetricAsString('netwarden_cni_gate_conflist_writes_total')).toMatch(
          /_total 2$/m,
        ),
      bounded,
    );
  });

  it('releases held pods once the Node shows this boot verified, not before, not for another boot', async () => {
    const { root, gate, registry } = setup();
    await gate.start();
    const verified = () => {
      try {
        return readFileSync(join(root, 'run', GATE_FILES.verified), 'utf8').trim();
      } catch {
        return '';
      }
    };
    gate.nodeChanged(nodeWith({ [BOOT_ID_ANNOTATION]: BOOT })); // closed for this boot
    gate.nodeChanged(nodeWith({ [BOOT_ID_ANNOTATION]: 'other', [READY_AT_ANNOTATION]: 'x' }, 'other')); // stale status
    gate.nodeChanged(undefined);
    await gate.stop(); // waits for the pending records
    expect(verified()).toBe('');
    expect(gate.status().verified).toBe(false);

    const again = setup(root); // the agent's next start on the same node
    stopping = again.gate;
    await again.gate.start();
    again.gate.nodeChanged(
      nodeWith({ [BOOT_ID_ANNOTATION]: BOOT, [READY_AT_ANNOTATION]: '2026-12-02T10:00:00Z' }),
    );
    const bounded = { timeout: 5_000, interval: 10 };
    await vi.waitFor(() => expect(verified()).toBe(BOOT), bounded);
    await vi.waitFor(() => expect(again.gate.status().verified).toBe(true), bounded);
    expect(await again.registry.getSingleMetricAsString('netwarden_cni_gate_boot_verified')).toMatch(/ 1$/m);
    expect(await registry.getSingleMetricAsString('netwarden_cni_gate_boot_verified')).toMatch(/ 0$/m);
  });

  it('reports a failed install, naming the problem, and keeps the conflist as it was', async () => {
    const root = tempDir('nw-boot-gate-');
    const { confDir, gate, registry } = setup(root, join(root, 'missing-plugin'));
    stopping = gate;
    await gate.start();
    expect(gate.status().lastError).toMatch(/boot gate plugin .*missing-plugin: .*ENOENT/);
    expect(readFileSync(join(confDir, '10-aws.conflist'), 'utf8')).toBe(AWS);
    expect(await registry.getSingleMetricAsString('netwarden_cni_gate_installed')).toMatch(/ 0$/m);
  });
});
