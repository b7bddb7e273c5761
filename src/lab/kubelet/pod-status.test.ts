import { describe, expect, it } from 'vitest';
import { type PodRuntime, podStatus } from './pod-status.ts';

const T = Date.parse('2026-05-01T12:00:00Z');

function runtime(partial: Partial<PodRuntime> = {}): PodRuntime {
  return {
    hostIP: '10.250.0.11',
    containers: [{ name: 'app', image: 'lab/api-client', restartCount: 0 }],
    ...partial,
  };
}

const cond = (s: Record<string, unknown>, type: string) =>
  (s.conditions as { type: string; status: string; lastTransitionTime: string; reason?: string }[]).find(
    (c) => c.type === type,
  );

describe('podStatus', () => {
  it('is Pending without a sandbox, with PodReadyToStartContainers False', () => {
    const s = podStatus(runtime(), undefined, T);
    expect(s.phase).toBe('Pending');
    expect(cond(s, 'PodReadyToStartContainers')?.status).toBe('False');
    expect(s).not.toHaveProperty('podIP');
  });

  it('dates PodReadyToStartContainers at the sandbox time and reports Ready when every container is', () => {
    const rt = runtime({
      podIP: '10.244.1.5',
      startTime: T - 5000,
      sandboxReadyAt: T - 3000,
      containers: [
        {
          name: 'app',
          image: 'lab/api-client',
          restartCount: 0,
          running: { startedAt: T - 2000, ready: true },
        },
      ],
    });
    const s = podStatus(rt, undefined, T);
    expect(s).toMatchObject({
      phase: 'Running',
      podIP: '10.244.1.5',
      podIPs: [{ ip: '10.244.1.5' }, { $patch: 'replace' }],
    });
    expect(cond(s, 'PodReadyToStartContainers')).toMatchObject({
      status: 'True',
      lastTransitionTime: '2026-05-01T11:59:57Z',
    });
    expect(cond(s, 'Ready')?.status).toBe('True');
  });

  it('reports CrashLoopBackOff with the last termination and keeps transition times of unchanged conditions', () => {
    const rt = runtime({
      podIP: '10.244.1.5',
      sandboxReadyAt: T - 60_000,
      containers: [
        {
          name: 'app',
          image: 'lab/api-client',
          restartCount: 3,
          waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container=app' },
          lastTerminated: { exitCode: 1, reason: 'Error', startedAt: T - 5000, finishedAt: T - 4000 },
        },
      ],
    });
    const previous = {
      conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: new Date(T - 50_000) }],
    };
    const s = podStatus(rt, previous, T);
    expect(cond(s, 'Ready')).toMatchObject({
      status: 'False',
      lastTransitionTime: '2026-05-01T11:59:10Z',
      reason: 'ContainersNotReady',
    });
    expect(cond(s, 'ContainersReady')?.lastTransitionTime).toBe('2026-05-01T12:00:00Z');
    expect((s.containerStatuses as unknown[])[0]).toMatchObject({
      ready: false,
      restartCount: 3,
      state: { waiting: { reason: 'CrashLoopBackOff' } },
      lastState: { terminated: { exitCode: 1, reason: 'Error' } },
    });
    expect(s.phase).toBe('Running');
  });
});
