import { describe, expect, it } from 'vitest';
import { crashLoopingSince } from './crashloop.ts';
import type { Pod } from './objects.ts';

const BOOT = Date.parse('2026-05-01T10:00:00Z');

function pod(containers: { waiting?: string; finishedAt?: string }[], init = false): Pod {
  const statuses = containers.map((c, i) => ({
    name: `c${i}`,
    image: 'x',
    imageID: '',
    ready: false,
    restartCount: 3,
    state: c.waiting ? { waiting: { reason: c.waiting } } : { running: {} },
    lastState: c.finishedAt
      ? { terminated: { exitCode: 1, finishedAt: c.finishedAt as unknown as Date } }
      : {},
  }));
  return { status: init ? { initContainerStatuses: statuses } : { containerStatuses: statuses } } as Pod;
}

describe('crashLoopingSince', () => {
  it.each([
    [
      'crash-looping, last crash on this boot',
      [pod([{ waiting: 'CrashLoopBackOff', finishedAt: '2026-05-01T10:00:05Z' }])],
      1,
    ],
    [
      'last crash exactly at the boot',
      [pod([{ waiting: 'CrashLoopBackOff', finishedAt: '2026-05-01T10:00:00Z' }])],
      1,
    ],
    [
      'last crash before this boot',
      [pod([{ waiting: 'CrashLoopBackOff', finishedAt: '2026-05-01T09:59:59Z' }])],
      0,
    ],
    ['crash-looping without a recorded termination', [pod([{ waiting: 'CrashLoopBackOff' }])], 0],
    ['restarted but running now', [pod([{ finishedAt: '2026-05-01T10:00:05Z' }])], 0],
    [
      'waiting for another reason',
      [pod([{ waiting: 'ImagePullBackOff', finishedAt: '2026-05-01T10:00:05Z' }])],
      0,
    ],
    [
      'an init container crash-looping',
      [pod([{ waiting: 'CrashLoopBackOff', finishedAt: '2026-05-01T10:01:00Z' }], true)],
      1,
    ],
    [
      'a pod with two looping containers counts once',
      [
        pod([
          { waiting: 'CrashLoopBackOff', finishedAt: '2026-05-01T10:01:00Z' },
          { waiting: 'CrashLoopBackOff', finishedAt: '2026-05-01T10:02:00Z' },
        ]),
      ],
      1,
    ],
    ['no status at all', [{} as Pod], 0],
  ])('%s', (_what, pods, want) => {
    expect(crashLoopingSince(pods, BOOT)).toBe(want);
  });
});
