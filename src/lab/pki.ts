/**
 * A throw-away PKI for one lab run: a CA, the API server's serving certificate, client
 * certificates for each identity, and the service-account signing key. Made with the openssl
 * command (Node.js can make keys but not X.509 certificates). EC P-256 keys keep it fast.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runOk } from '../host/exec.ts';

/** A certificate and its key, as file paths. */
export interface CertPair {
  readonly cert: string;
  readonly key: string;
}

/** Files of a lab PKI. */
export interface LabPki {
  readonly dir: string;
  readonly ca: CertPair;
  readonly apiServer: CertPair;
  readonly saPublicKey: string;
  readonly saPrivateKey: string;
}

const DAYS = '7';

/** Creates the CA, the API server cert (with `sans`: IPs and DNS names) and the SA key pair in `dir`. */
export async function createPki(dir: string, sans: { ips: string[]; dns: string[] }): Promise<LabPki> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
  await runOk('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    ca.key,
    '-out',
    ca.cert,
    '-days',
    DAYS,
    '-subj',
    '/CN=netwarden-lab-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  const apiServer = await issueCert(dir, ca, 'apiserver', {
    cn: 'kube-apiserver',
    orgs: [],
    sans,
    server: true,
  });

  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const saPublicKey = join(dir, 'sa.pub');
  const saPrivateKey = join(dir, 'sa.key');
  writeFileSync(saPublicKey, publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(saPrivateKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return { dir, ca, apiServer, saPublicKey, saPrivateKey };
}

/** What a certificate says about its holder. */
export interface CertSubject {
  /** Kubernetes user name. */
  readonly cn: string;
  /** Kubernetes groups. */
  readonly orgs: readonly string[];
  readonly sans?: { ips: string[]; dns: string[] };
  /** Also valid as a TLS server certificate. */
  readonly server?: boolean;
}

/** Issues a certificate signed by `ca`, written as `<name>.crt` / `<name>.key` in `dir`. */
export async function issueCert(
  dir: string,
  ca: CertPair,
  name: string,
  subject: CertSubject,
): Promise<CertPair> {
  const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  const subj = [...subject.orgs.map((o) => `/O=${o}`), `/CN=${subject.cn}`].join('');
  await runOk('openssl', [
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    pair.key,
    '-out',
    csr,
    '-subj',
    subj,
  ]);
  const lines = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${subject.server ? 'serverAuth,clientAuth' : 'clientAuth'}`,
  ];
  if (subject.sans) {
    const alt = [...subject.sans.ips.map((ip) => `IP:${ip}`), ...subject.sans.dns.map((d) => `DNS:${d}`)];
    if (alt.length > 0) lines.push(`subjectAltName=${alt.join(',')}`);
  }
  writeFileSync(ext, `${lines.join('\n')}\n`);
  await runOk('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-days',
    DAYS,
    '-out',
    pair.cert,
    '-extfile',
    ext,
  ]);
  return pair;
}
