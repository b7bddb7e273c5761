import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadKubeConfig } from './config.ts';

const dir = mkdtempSync(join(tmpdir(), 'nw-kubeconfig-'));
const good = join(dir, 'good.kubeconfig');
writeFileSync(
  good,
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: 'https://10.0.0.1:6443' } }],
    users: [{ name: 'u', user: { token: 't' } }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'x',
  }),
);
const noServer = join(dir, 'no-server.kubeconfig');
writeFileSync(
  noServer,
  JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [], users: [], contexts: [] }),
);
const garbage = join(dir, 'garbage.kubeconfig');
writeFileSync(garbage, '{{{ not yaml');
const emptyHome = join(dir, 'home');
mkdirSync(emptyHome);
const saDir = join(dir, 'sa');
mkdirSync(saDir);

describe('loadKubeConfig', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('prefers --kubeconfig, then KUBECONFIG (first existing file)', () => {
    expect(loadKubeConfig({ kubeconfigPath: good, env: {}, home: emptyHome })).toMatchObject({
      source: 'flag',
      server: 'https://10.0.0.1:6443',
    });
    expect(loadKubeConfig({ env: { KUBECONFIG: `/nope:${good}` }, home: emptyHome }).source).toBe('env');
  });

  it('uses the in-cluster service account when KUBERNETES_SERVICE_HOST is set', () => {
    writeFileSync(join(saDir, 'token'), 'tok');
    writeFileSync(join(saDir, 'ca.crt'), '');
    const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
    // client-node reads the service address from process.env itself
    vi.stubEnv('KUBERNETES_SERVICE_HOST', env.KUBERNETES_SERVICE_HOST);
    vi.stubEnv('KUBERNETES_SERVICE_PORT', env.KUBERNETES_SERVICE_PORT);
    const loaded = loadKubeConfig({ env, home: emptyHome, serviceAccountDir: saDir });
    expect(loaded).toMatchObject({ source: 'in-cluster', server: 'https://10.96.0.1:443' });
    // The files are the folder's own (not <folder>/var/run/secrets/…): the CA and a re-read token file.
    expect(loaded.kc.getCurrentCluster()?.caFile).toBe(join(saDir, 'ca.crt'));
    expect(loaded.kc.getCurrentUser()?.authProvider).toEqual({
      name: 'tokenFile',
      config: { tokenFile: join(saDir, 'token') },
    });
  });

  it('takes the address from the environment it is given (the chart may set it), IPv6 in brackets', () => {
    writeFileSync(join(saDir, 'token'), 'tok');
    const env = { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' };
    expect(loadKubeConfig({ env, home: emptyHome, serviceAccountDir: saDir }).server).toBe(
      'https://[fd00::1]:6443',
    );
  });

  it.each([
    [
      'a missing --kubeconfig file',
      { kubeconfigPath: '/nope/config' },
      /--kubeconfig: \/nope\/config: no such file/,
    ],
    ['an unparsable file', { kubeconfigPath: garbage }, /not a valid kubeconfig/],
    ['a kubeconfig without a server', { kubeconfigPath: noServer }, /names no cluster server/],
    ['nothing at all', {}, /no Kubernetes credentials found; tried KUBECONFIG=\/nope.*pass --kubeconfig/],
  ])('fails with one clear line for %s', (_name, opts, message) => {
    expect(() => loadKubeConfig({ env: { KUBECONFIG: '/nope' }, home: emptyHome, ...opts })).toThrow(message);
  });
});
