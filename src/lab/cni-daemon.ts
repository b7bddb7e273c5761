/**
 * The lab node's CNI daemon stand-in (what ipamd, calico-node or cilium-agent are on a real node):
 * `node cni-daemon.ts <ready-file> <host:port>` answers GET /healthz with 200 once the ready file
 * exists (the lab writes it at the node's "CNI ready" moment, the same file the lab-vpc-rules
 * plugin consults) and 503 before. Nothing else.
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';

const [readyFile, listen] = process.argv.slice(2);
if (!readyFile || !listen) {
  process.stderr.write('usage: cni-daemon.ts <ready-file> <host:port>\n');
  process.exit(2);
}
const i = listen.lastIndexOf(':');
createServer((req, res) => {
  if (req.url !== '/healthz') {
    res.writeHead(404).end('not found\n');
    return;
  }
  const ready = existsSync(readyFile);
  res
    .writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' })
    .end(ready ? 'ok\n' : 'CNI not ready: IP address management is still starting\n');
}).listen(Number(listen.slice(i + 1)), listen.slice(0, i), () => process.stdout.write(`serving ${listen}\n`));
