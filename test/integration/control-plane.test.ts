import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGet } from '../../src/host/http.ts';
import { tcpConnect } from '../../src/host/tcp.ts';
import { connect } from '../../src/kube/connect.ts';
import { goModuleDir, pinnedVersions } from '../../src/lab/binaries.ts';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane.ts';

describe('control plane fixture', () => {
  let t: TestControlPlane;

  beforeAll(async () => {
    t = await startTestControlPlane({ controllerManager: true, scheduler: true });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('serves the pinned Kubernetes version over TLS with client-certificate auth', async () => {
    const pinned = pinnedVersions(readFileSync(join(goModuleDir(), 'go.mod'), 'utf8'));
    const res = await httpGet(`${t.cp.server}/version`, { tls: t.cp.adminTls() });
    expect(res.ok && res.status).toBe(200);
    expect(res.ok && JSON.parse(res.body).gitVersion).toBe(pinned.kubernetes);
    const anonymous = await httpGet(`${t.cp.server}/api/v1/nodes`, { tls: { ca: t.cp.pki.ca.cert } });
    expect(anonymous.ok && anonymous.status).toBe(403);
  });

  it('runs controller-manager and scheduler against it', () => {
    expect(t.cp.processes().map((p) => [p.spec.name, p.running])).toEqual([
      ['etcd', true],
      ['kube-apiserver', true],
      ['kube-controller-manager', true],
      ['kube-scheduler', true],
    ]);
  });

  it('mints a user kubeconfig that RBAC really checks', async () => {
    const kubeconfig = await t.cp.mintUserKubeconfig('jane', ['testers']);
    const jane = connect({ kubeconfigPath: kubeconfig });
    await expect(jane.nodes.list()).rejects.toMatchObject({ status: 403 });
    await t.admin.objects.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'node-reader' },
      rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['list'] }],
    });
    await t.admin.objects.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'testers-read-nodes' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'node-reader' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'testers' }],
    });
    await expect(jane.nodes.list()).resolves.toEqual([]);
    await expect(jane.nodes.get('x')).rejects.toMatchObject({ status: 403 });
  });

  it('mints a ServiceAccount token kubeconfig', async () => {
    await t.admin.objects.apply({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'robot', namespace: 'default' },
    });
    const token = await t.admin.objects.serviceAccountToken('default', 'robot', 600);
    expect(token.split('.')).toHaveLength(3);
    const robot = connect({ kubeconfigPath: t.cp.tokenKubeconfig('default', 'robot', token) });
    await expect(robot.nodes.list()).rejects.toMatchObject({
      status: 403,
      message: expect.stringContaining('system:serviceaccount:default:robot'),
    });
  });

  it('leaves no process or folder behind when stopped', async () => {
    const dir = t.run.dir;
    const result = await t.close();
    expect(result).toEqual({ problems: [], leftoverPids: [] });
    expect(existsSync(dir)).toBe(false);
    // and nothing listens on the API server's port any more
    const url = new URL(t.cp.server);
    expect(await tcpConnect(url.hostname, Number(url.port), 1_000)).toMatchObject({
      ok: false,
      error: 'ECONNREFUSED',
    });
  });
});
