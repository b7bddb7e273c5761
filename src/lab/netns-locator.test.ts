import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabNetnsLocator } from './netns-locator.ts';

const UID = '1c3e5f4a-2b6d-4c8e-9f10-123456789abc';

describe('LabNetnsLocator', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nw-lab-locator-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names namespaces <runId>-<node>-<uid prefix>', async () => {
    const netnsDir = join(dir, 'netns');
    await mkdir(netnsDir, { recursive: true });
    await writeFile(join(netnsDir, `nw1234-node-1-${UID.slice(0, 8)}`), '');
    const m = await new LabNetnsLocator({ runId: 'nw1234', nodeName: 'node-1', dir: netnsDir }).locate([
      UID,
      'deadbeef-0000',
    ]);
    expect([...m.keys()]).toEqual([UID]);
    expect(m.get(UID)?.path).toBe(join(netnsDir, 'nw1234-node-1-1c3e5f4a'));
  });
});
