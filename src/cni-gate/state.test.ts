import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GATE_FILES, parseBootStamp } from '../core/boot-gate.ts';
import { GateState } from './state.ts';
import { tempDir } from './testing.ts';

function node(bootId = 'boot-1', uptime = '100.25 50.00\n') {
  const dir = tempDir('nw-gate-state-');
  writeFileSync(join(dir, 'boot_id'), `${bootId}\n`);
  writeFileSync(join(dir, 'uptime'), uptime);
  return { dir, state: new GateState(join(dir, 'run'), join(dir, 'boot_id'), join(dir, 'uptime')) };
}
const read = (state: GateState, f: string) => readFileSync(join(state.dir, f), 'utf8');

describe('GateState', () => {
  it('heartbeats on the boot clock and records the first sighting once per boot', async () => {
    const { dir, state } = node();
    expect(await state.beat()).toEqual({ bootId: 'boot-1', uptimeMs: 100_250 });
    expect(JSON.parse(read(state, GATE_FILES.heartbeat))).toEqual({
      bootId: 'boot-1',
      uptimeMs: 100_250,
      pid: process.pid,
    });
    writeFileSync(join(dir, 'uptime'), '130.00 60.00\n');
    await state.beat();
    expect(parseBootStamp(read(state, GATE_FILES.heartbeat))?.uptimeMs).toBe(130_000);
    expect(parseBootStamp(read(state, GATE_FILES.bootSeen))).toEqual({ bootId: 'boot-1', uptimeMs: 100_250 });
    writeFileSync(join(dir, 'boot_id'), 'boot-2\n'); // the lab's "reboot": same kernel clock, new boot id
    await state.beat();
    expect(parseBootStamp(read(state, GATE_FILES.bootSeen))).toEqual({ bootId: 'boot-2', uptimeMs: 130_000 });
  });

  it('records a verified boot once', async () => {
    const { state } = node();
    expect(await state.verifiedBootId()).toBeUndefined();
    expect(await state.markVerified('boot-1')).toBe(true);
    expect(await state.markVerified('boot-1')).toBe(false);
    expect(read(state, GATE_FILES.verified)).toBe('boot-1\n');
    expect(await state.verifiedBootId()).toBe('boot-1');
  });

  it('reads the plugin counters and both generations of its log', async () => {
    const { state } = node();
    expect((await state.counters()).retry).toBe(0);
    mkdirSync(join(state.dir, 'cni-gate'), { recursive: true });
    writeFileSync(join(state.dir, GATE_FILES.counters), '{"retry":2,"passed":7}\n');
    writeFileSync(
      join(state.dir, `${GATE_FILES.log}.1`),
      '{"event":"add","outcome":"retry","bootId":"boot-1","heldMs":20000}\n',
    );
    writeFileSync(
      join(state.dir, GATE_FILES.log),
      '{"event":"add","outcome":"released","bootId":"boot-1","heldMs":3000}\n',
    );
    expect(await state.counters()).toMatchObject({ retry: 2, passed: 7, exempt: 0 });
    expect(await state.logSummary('boot-1')).toMatchObject({
      held: 2,
      maxHeldMs: 20_000,
      retries: 1,
      released: 1,
    });
  });

  it.each([
    ['', 'does not hold a boot id'],
    ['two words', 'does not hold a boot id'],
  ])('rejects boot id file content %j', async (content, msg) => {
    const { dir, state } = node();
    writeFileSync(join(dir, 'boot_id'), content);
    await expect(state.bootId()).rejects.toThrow(msg);
  });

  it('names an unreadable boot id file', async () => {
    await expect(new GateState('/tmp/x', '/nonexistent/boot_id').bootId()).rejects.toThrow(
      /boot id file \/nonexistent\/boot_id: ENOENT/,
    );
  });
});
