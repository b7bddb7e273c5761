/**
 * Tearing down a test's lab and checking it left nothing: no problem reported by `down()`, no
 * network namespace and no process of its run.
 */
import { expect } from 'vitest';
import type { Lab } from '../../src/lab/lab.ts';
import { listNetns } from '../../src/lab/network.ts';
import { pidsOfRun } from '../../src/lab/run-dir.ts';

export async function downAndExpectClean(lab: Lab | undefined): Promise<void> {
  const id = lab?.run.id;
  const problems = await lab?.down();
  expect(problems).toEqual([]);
  if (id) {
    expect(await listNetns(id)).toEqual([]);
    expect(pidsOfRun(id)).toEqual([]);
  }
}
