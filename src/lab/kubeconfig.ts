/** Writing kubeconfig files for lab identities (JSON, which every kubeconfig reader accepts as YAML). */
import { writeFileSync } from 'node:fs';

/** How a kubeconfig user authenticates. */
export type KubeconfigUser =
  | { readonly certFile: string; readonly keyFile: string }
  | { readonly token: string };

/** Writes a single-context kubeconfig to `path` (mode 0600) and returns `path`. */
export function writeKubeconfig(
  path: string,
  server: string,
  caFile: string,
  userName: string,
  user: KubeconfigUser,
): string {
  const credentials =
    'token' in user
      ? { token: user.token }
      : { 'client-certificate': user.certFile, 'client-key': user.keyFile };
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'lab', cluster: { server, 'certificate-authority': caFile } }],
    users: [{ name: userName, user: credentials }],
    contexts: [{ name: 'lab', context: { cluster: 'lab', user: userName } }],
    'current-context': 'lab',
  };
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return path;
}
