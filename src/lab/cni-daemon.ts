/**
 * The lab node's CNI daemon stand-in (what ipamd, calico-node or cilium-agent are on a real node):
 * `node cni-daemon.ts <ready-file> <host:port> [<state-dir>]` answers
 * - GET /healthz with 200 once the ready file exists (the lab writes it at the node's "CNI ready"
 *   moment, the same file the lab-vpc-rules plugin consults) and 503 before;
 * - GET /v1/enis like ipamd's introspection: one secondary ENI (device number 1, whose table the
 *   lab's 1536 rules select) holding every pod address lab-vpc-rules recorded in `<state-dir>`
 *   (one JSON record per container).
 *   That is where a real agent learns which pods need a from-pod rule.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

const [readyFile, listen, stateDir] = process.argv.slice(2);
if (!readyFile || !listen) {
  process.stderr.write('usage: cni-daemon.ts <ready-file> <host:port> [<state-dir>]\n');
  process.exit(2);
}

/** ipamd's `/v1/enis` shape (prefix-era layout) for the recorded addresses. */
function enis(): unknown {
  const addresses: Record<string, unknown> = {};
  for (const f of stateDir && existsSync(stateDir) ? readdirSync(stateDir) : []) {
    try {
      const a = JSON.parse(readFileSync(join(stateDir as string, f), 'utf8')) as {
        ip?: string;
        namespace?: string;
        name?: string;
        containerID?: string;
      };
      if (!a.ip) continue;
      addresses[a.ip] = {
        IPAMKey: { containerID: a.containerID ?? '', ifName: 'eth0', networkName: 'lab-vpc' },
        IPAMMetadata: { k8sPodNamespace: a.namespace ?? '', k8sPodName: a.name ?? '' },
      };
    } catch {
      // a file being written right now: next request
    }
  }
  return {
    ENIs: {
      'eni-lab-primary': { ID: 'eni-lab-primary', IsPrimary: true, DeviceNumber: 0, AvailableIPv4Cidrs: {} },
      'eni-lab-secondary': {
        ID: 'eni-lab-secondary',
        IsPrimary: false,
        DeviceNumber: 1,
        AvailableIPv4Cidrs: { 'lab/pods': { IPAddresses: addresses } },
      },
    },
  };
}

const i = listen.lastIndexOf(':');
createServer((req, res) => {
  if (req.url === '/v1/enis') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(enis()));
    return;
  }
  if (req.url !== '/healthz') {
    res.writeHead(404).end('not found\n');
    return;
  }
  const ready = existsSync(readyFile);
  res
    .writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' })
    .end(ready ? 'ok\n' : 'CNI not ready: IP address management is still starting\n');
}).listen(Number(listen.slice(i + 1)), listen.slice(0, i), () => process.stdout.write(`serving ${listen}\n`));
