/**
 * A byte pipe between two sockets, run as its own process: `node forwarder.ts <listen> <target>`
 * with `tcp:<host>:<port>` or `unix:<path>` on either side. Two of them carry the API server from
 * the root namespace's loopback to the lab address in the VPC namespace, through a unix socket
 * (visible from every namespace), without any interface or route in the root namespace.
 */
import { rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';

type Endpoint = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/** Parses `tcp:host:port` or `unix:/path`. */
export function parseEndpoint(text: string): Endpoint {
  if (text.startsWith('unix:')) return { kind: 'unix', path: text.slice(5) };
  const m = text.match(/^tcp:(.+):(\d+)$/);
  if (m?.[1] && m[2]) return { kind: 'tcp', host: m[1], port: Number(m[2]) };
  throw new Error(`forwarder: "${text}" is not tcp:<host>:<port> or unix:<path>`);
}

function dial(target: Endpoint): Socket {
  return target.kind === 'unix' ? connect(target.path) : connect(target.port, target.host);
}

/** Listens on `listen` and pipes each connection to a new connection to `target`. */
export function forward(listen: Endpoint, target: Endpoint, onReady: () => void): void {
  const server = createServer((client) => {
    const upstream = dial(target);
    client.pipe(upstream);
    upstream.pipe(client);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
  if (listen.kind === 'unix') {
    rmSync(listen.path, { force: true });
    server.listen(listen.path, onReady);
  } else {
    server.listen(listen.port, listen.host, onReady);
  }
}

if (import.meta.main) {
  const [listen, target] = process.argv.slice(2);
  if (!listen || !target) {
    process.stderr.write('usage: forwarder.ts <tcp:host:port|unix:path> <tcp:host:port|unix:path>\n');
    process.exit(2);
  }
  forward(parseEndpoint(listen), parseEndpoint(target), () => {
    process.stdout.write(`forwarding ${listen} -> ${target}\n`);
  });
}
