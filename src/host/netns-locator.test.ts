import { randomBytes } from 'node:crypto';
import { link, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcNetnsLocator, podUidFromCgroup } from './netns-locator.ts';

const UID = '1c3e5f4a-2b6d-4c8e-9f10-123456789abc';
const UID_ = UID.replaceAll('-', '_');

describe('podUidFromCgroup', () => {
  it.each([
    [
      'cgroup v2, systemd driver, burstable',
      `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-0123abcd.scope\n`,
      UID,
    ],
    [
      'cgroup v2, systemd driver, guaranteed',
      `0::/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-0123abcd.scope\n`,
      UID,
    ],
    ['cgroup v2, cgroupfs driver', `0::/kubepods/besteffort/pod${UID}/0123abcd\n`, UID],
    [
      'cgroup v2, private cgroup namespace (relative path)',
      `0::/../../kubepods-besteffort-pod${UID_}.slice/cri-containerd-0123abcd.scope\n`,
      UID,
    ],
    [
      'cgroup v1, cgroupfs driver',
      `12:memory:/kubepods/burstable/pod${UID}/0123abcd\n11:cpu,cpuacct:/kubepods/burstable/pod${UID}/0123abcd\n1:name=systemd:/kubepods/burstable/pod${UID}/0123abcd\n`,
      UID,
    ],
    [
      'cgroup v1, systemd driver, docker',
      `11:pids:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/docker-0123.scope\n`,
      UID,
    ],
    [
      'cri-o',
      `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/crio-0123.scope\n`,
      UID,
    ],
    ['upper-case hex normalised', `0::/kubepods/pod${UID.toUpperCase()}/x\n`, UID],
    ['a system service', '0::/system.slice/containerd.service\n', undefined],
    ['init', '0::/init.scope\n', undefined],
    ['a pod-like word that is not a uid', '0::/user.slice/podman-1234.scope\n', undefined],
    ['the pod cgroup itself without container', `0::/kubepods/burstable/pod${UID}\n`, UID],
  ])('%s', (_name, text, want) => {
    expect(podUidFromCgroup(text)).toBe(want);
  });
});

describe('locators', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nw-locator-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A fake /proc: each pid with a cgroup file and an ns/net file (same file = same namespace). */
  async function fakeProc(procs: { pid: number; cgroup?: string; netnsOf?: number }[]): Promise<string> {
    const root = join(dir, `proc-${randomBytes(4).toString('hex')}`);
    for (const p of procs) {
      await mkdir(join(root, String(p.pid), 'ns'), { recursive: true });
      if (p.cgroup !== undefined) await writeFile(join(root, String(p.pid), 'cgroup'), p.cgroup);
      const net = join(root, String(p.pid), 'ns', 'net');
      if (p.netnsOf === undefined) await writeFile(net, '');
      else await link(join(root, String(p.netnsOf), 'ns', 'net'), net);
    }
    await mkdir(join(root, 'self'), { recursive: true }); // non-numeric entries are ignored
    return root;
  }

  it('ProcNetnsLocator finds each wanted pod by its cgroup, first process wins', async () => {
    const other = '99999999-2b6d-4c8e-9f10-123456789abc';
    const root = await fakeProc([
      { pid: 1, cgroup: '0::/init.scope\n' },
      { pid: 200, cgroup: '0::/system.slice/kubelet.service\n', netnsOf: 1 },
      { pid: 310, cgroup: `0::/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-pause.scope\n` },
      {
        pid: 311,
        cgroup: `0::/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-app.scope\n`,
        netnsOf: 310,
      },
      { pid: 400, cgroup: `0::/kubepods/besteffort/pod${other}/x\n` },
      { pid: 500 }, // exited while scanning: no cgroup file
    ]);
    const m = await new ProcNetnsLocator({ procRoot: root }).locate([UID, other.toUpperCase()]);
    expect(m.get(UID)).toMatchObject({ path: join(root, '310', 'ns', 'net'), via: 'pid 310' });
    expect(m.get(UID)?.netnsId).toMatch(/^net:\[\d+\]$/);
    expect(m.get(other)?.via).toBe('pid 400');
  });

  it('ProcNetnsLocator skips pods sharing the node namespace (host network) and unwanted pods', async () => {
    const root = await fakeProc([
      { pid: 1, cgroup: '0::/init.scope\n' },
      { pid: 310, cgroup: `0::/kubepods/besteffort/pod${UID}/x\n`, netnsOf: 1 },
    ]);
    expect((await new ProcNetnsLocator({ procRoot: root }).locate([UID])).size).toBe(0);
    expect((await new ProcNetnsLocator({ procRoot: root }).locate([])).size).toBe(0);
  });
});
