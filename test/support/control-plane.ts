/**
 * Test fixture: a real control plane for one test file. Binaries come from the cache (built by
 * `netwarden lab build`, which the test command runs first) or NETWARDEN_KUBE_BIN.
 */
import { connect, type KubeApis } from '../../src/kube/connect.ts';
import { ensureBinaries } from '../../src/lab/binaries.ts';
import { ControlPlane, type ControlPlaneOptions } from '../../src/lab/control-plane.ts';
import { LabRun, pidsOfRun } from '../../src/lab/run-dir.ts';
import { waitFor } from '../../src/lab/wait.ts';

/** A started control plane with admin APIs, and its teardown. */
export interface TestControlPlane {
  readonly cp: ControlPlane;
  readonly run: LabRun;
  readonly admin: KubeApis;
  /** Stops everything and asserts nothing of the run is left. */
  close(): Promise<{ problems: string[]; leftoverPids: number[] }>;
}

/** Starts etcd + kube-apiserver (+ controllers when asked) in a fresh lab run. */
export async function startTestControlPlane(
  opts: Partial<Pick<ControlPlaneOptions, 'controllerManager' | 'scheduler'>> = {},
): Promise<TestControlPlane> {
  const bins = await ensureBinaries();
  const run = await LabRun.create();
  try {
    const cp = await ControlPlane.start({ run, binaries: bins.paths, ...opts });
    const admin = connect({ kubeconfigPath: cp.adminKubeconfig });
    return {
      cp,
      run,
      admin,
      async close() {
        const problems = await run.close();
        return { problems, leftoverPids: pidsOfRun(run.id) };
      },
    };
  } catch (err) {
    await run.close();
    throw err;
  }
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes; returns the value or throws. */
export function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
): Promise<T> {
  return waitFor(what, fn, timeoutMs);
}

/** A minimal Node object for tests that have no kubelet. */
export function testNode(name: string): {
  apiVersion: 'v1';
  kind: 'Node';
  metadata: { name: string; labels: Record<string, string> };
} {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'netwarden.dev/test': 'true' } } };
}
