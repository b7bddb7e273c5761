/** The lab's clean-up contract, with real processes: a killed run's leftovers are removed by the next run. */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanStaleRuns, LabRun, pidsOfRun, RUN_ENV } from '../../src/lab/run-dir.ts';

describe('lab run folders', () => {
  const root = mkdtempSync(join(tmpdir(), 'nw-rundir-test-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('removes processes and files of a run whose owner died, and leaves live runs alone', async () => {
    // A live run (owned by this process) with its own process.
    const live = await LabRun.create({ root });
    const liveChild = spawn('sleep', ['300'], { env: live.env(), detached: true, stdio: 'ignore' });
    liveChild.unref();
    await new Promise((r) => setTimeout(r, 100));

    // A "killed" run: owner pid that does not exist, one orphaned process carrying its id.
    const deadId = 'nwdead01';
    mkdirSync(join(root, deadId), { recursive: true });
    writeFileSync(
      join(root, deadId, 'owner.json'),
      JSON.stringify({ pid: 2 ** 22 + 7, startTicks: '1', createdAt: '' }),
    );
    const orphan = spawn('sleep', ['300'], {
      env: { ...process.env, [RUN_ENV]: deadId },
      detached: true,
      stdio: 'ignore',
    });
    orphan.unref();
    await new Promise((r) => setTimeout(r, 100));
    expect(pidsOfRun(deadId)).toEqual([orphan.pid]);

    expect(await cleanStaleRuns(root)).toEqual([deadId]);
    expect(pidsOfRun(deadId)).toEqual([]);
    expect(existsSync(join(root, deadId))).toBe(false);
    expect(pidsOfRun(live.id)).toEqual([liveChild.pid]);

    expect(await live.close()).toEqual([]);
    expect(pidsOfRun(live.id)).toEqual([]);
    expect(existsSync(live.dir)).toBe(false);
  });
});
