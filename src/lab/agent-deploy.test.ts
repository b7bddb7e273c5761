import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Pod } from '../core/objects.ts';
import {
  agentPodProblem,
  helmInstallArgs,
  helmUninstallArgs,
  labChartValues,
  readAgentToken,
} from './agent-deploy.ts';

const UID = '0f6c1c2e-8a3b-4c5d-9e7f-112233445566';

function agentPod(over: {
  sa?: string;
  phase?: string;
  ready?: boolean;
  state?: object;
  lastState?: object;
}): Pod {
  return {
    metadata: { name: 'netwarden-agent-x', namespace: 'netwarden', uid: UID },
    spec: {
      nodeName: 'node-1',
      containers: [{ name: 'agent' }],
      ...{ serviceAccountName: over.sa ?? 'netwarden-agent' },
    },
    status: {
      phase: over.phase ?? 'Running',
      conditions: [{ type: 'Ready', status: over.ready === false ? 'False' : 'True' }],
      containerStatuses: [
        {
          name: 'agent',
          ready: over.ready !== false,
          restartCount: 2,
          state: over.state ?? { running: { startedAt: '2026-01-01T00:00:00Z' } },
          ...(over.lastState ? { lastState: over.lastState } : {}),
        },
      ],
    },
  } as Pod;
}

describe('labChartValues', () => {
  it("points the chart at the imported image, the lab's CNI stand-in and the API server's lab address", () => {
    expect(
      labChartValues({
        image: { repository: 'docker.io/netwarden/netwarden', tag: 'lab-abc' },
        apiHost: '10.251.0.1',
        apiPort: 40123,
        config: { steadyInterval: '5s' },
      }),
    ).toEqual({
      image: { repository: 'docker.io/netwarden/netwarden', tag: 'lab-abc', pullPolicy: 'Never' },
      apiServer: { host: '10.251.0.1', port: 40123 },
      config: {
        cniConfDir: '/etc/cni/net.d',
        ipamdUrl: 'http://127.0.0.1:61678',
        cniHealthUrl: 'http://127.0.0.1:61678/healthz',
        podNetnsLocator: 'proc',
        steadyInterval: '5s',
      },
    });
  });
});

describe('helm arguments', () => {
  it('install: the release into its namespace with the values file, bounded', () => {
    const args = helmInstallArgs({ kubeconfig: '/k', valuesFile: '/v.json', chartDir: '/chart' });
    expect(args.slice(0, 3)).toEqual(['install', 'netwarden', '/chart']);
    expect(args.join(' ')).toContain(
      '--kubeconfig /k --namespace netwarden --create-namespace --values /v.json',
    );
    expect(args.join(' ')).toMatch(/--timeout \d+m$/);
  });
  it('uninstall waits for the hooks (the clean-up Job), bounded', () => {
    expect(helmUninstallArgs({ kubeconfig: '/k' }).join(' ')).toBe(
      'uninstall netwarden --kubeconfig /k --namespace netwarden --wait=hookOnly --timeout 3m',
    );
  });
});

describe('agentPodProblem', () => {
  it('accepts a Running, Ready agent under the chart ServiceAccount', () => {
    expect(agentPodProblem(agentPod({}), 'node-1')).toBeUndefined();
  });
  it('names a missing pod, a wrong identity and a not-ready container with its last state', () => {
    expect(agentPodProblem(undefined, 'node-2')).toBe('no agent pod on node-2');
    expect(agentPodProblem(agentPod({ sa: 'default' }), 'node-1')).toContain(
      'runs as ServiceAccount default, not netwarden-agent',
    );
    const crashing = agentPodProblem(
      agentPod({
        ready: false,
        state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 10s' } },
        lastState: { terminated: { exitCode: 1, reason: 'Error' } },
      }),
      'node-1',
    );
    expect(crashing).toBe(
      'pod netwarden/netwarden-agent-x on node-1 is Running, Ready False; container agent waiting (CrashLoopBackOff: back-off 10s), 2 restart(s), last terminated (exit 1, Error)',
    );
    expect(
      agentPodProblem(
        agentPod({ phase: 'Pending', ready: false, state: { waiting: { reason: 'ErrImageNeverPull' } } }),
        'node-1',
      ),
    ).toContain('is Pending, Ready False; container agent waiting (ErrImageNeverPull)');
  });
});

describe('readAgentToken', () => {
  const proc = mkdtempSync(join(tmpdir(), 'nw-proc-'));
  afterAll(() => rmSync(proc, { recursive: true, force: true }));
  const fakeProcess = (pid: number, cgroup: string, cmdline: string[], token?: string) => {
    const dir = join(proc, String(pid));
    mkdirSync(join(dir, 'root/var/run/secrets/kubernetes.io/serviceaccount'), { recursive: true });
    writeFileSync(join(dir, 'cgroup'), cgroup);
    writeFileSync(join(dir, 'cmdline'), `${cmdline.join('\0')}\0`);
    if (token)
      writeFileSync(join(dir, 'root/var/run/secrets/kubernetes.io/serviceaccount/token'), `${token}\n`);
  };

  it("reads the token from the agent container's root, not the pause container's or another pod's", async () => {
    const cg = (uid: string, c: string) => `12:memory:/nwabc-node-1/kubepods/besteffort/pod${uid}/${c}\n`;
    fakeProcess(100, cg(UID, 'pause'), ['/pause']);
    fakeProcess(
      101,
      cg('aaaaaaaa-8a3b-4c5d-9e7f-112233445566', 'x'),
      ['/usr/bin/node', '/app/netwarden.mjs', 'agent'],
      'other',
    );
    fakeProcess(102, cg(UID, 'agent'), ['/usr/bin/node', '/app/netwarden.mjs', 'agent'], 'a.b.c');
    expect(await readAgentToken(UID, proc)).toBe('a.b.c');
    await expect(readAgentToken('bbbbbbbb-8a3b-4c5d-9e7f-112233445566', proc)).rejects.toThrow(
      'no running netwarden container of pod bbbbbbbb',
    );
  });
});
