/**
 * The agent's HTTP surfaces, on two listeners:
 * - `--listen` (all interfaces by default, for Prometheus and the kubelet's probes): /metrics,
 *   /healthz (the process serves), /readyz (caches synced, a round done). No pod names, no evidence.
 * - `--status-listen` (localhost by default): /status, this node's checks with their evidence, pod
 *   names and repair decisions — for `kubectl debug`/port-forward, not for the network.
 */
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

/** What the server asks the agent for. */
export interface StatusSource {
  ready(): boolean;
  status(): unknown;
}

type Send = (code: number, type: string, body: string) => void;

/** Starts the metrics/health listener on `host:port`. */
export function startServer(listen: string, registry: Registry, source: StatusSource): Promise<Server> {
  return serve(listen, (path, send) => {
    switch (path) {
      case '/metrics':
        registry.metrics().then(
          (m) => send(200, registry.contentType, m),
          (e: unknown) => send(500, 'text/plain', `${String(e)}\n`),
        );
        return;
      case '/healthz':
        return send(200, 'text/plain', 'ok\n');
      case '/readyz':
        return source.ready()
          ? send(200, 'text/plain', 'ok\n')
          : send(503, 'text/plain', 'not ready: caches not synced or no round completed\n');
      default:
        return send(
          404,
          'text/plain',
          'not found: try /metrics, /healthz, /readyz (/status is on --status-listen)\n',
        );
    }
  });
}

/** Starts the /status listener on `host:port`. */
export function startStatusServer(listen: string, source: StatusSource): Promise<Server> {
  return serve(listen, (path, send) =>
    path === '/status'
      ? send(200, 'application/json', `${JSON.stringify(source.status(), null, 2)}\n`)
      : send(404, 'text/plain', 'not found: try /status\n'),
  );
}

function serve(listen: string, route: (path: string, send: Send) => void): Promise<Server> {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i) || '0.0.0.0';
  const port = Number(listen.slice(i + 1));
  const server = createServer((req, res) => {
    const send: Send = (code, type, body) => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET') return send(405, 'text/plain', 'method not allowed\n');
    route((req.url ?? '/').split('?')[0] ?? '/', send);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
