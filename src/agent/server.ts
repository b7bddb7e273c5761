/** The agent's HTTP surface: /metrics, /healthz (the process serves), /readyz (caches synced, a round done), /status (JSON). */
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

/** What the server asks the agent for. */
export interface StatusSource {
  ready(): boolean;
  status(): unknown;
}

/** Starts listening on `host:port`; resolves with the server once it listens. */
export function startServer(listen: string, registry: Registry, source: StatusSource): Promise<Server> {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i) || '0.0.0.0';
  const port = Number(listen.slice(i + 1));
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (code: number, type: string, body: string): void => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET') return send(405, 'text/plain', 'method not allowed\n');
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
      case '/status':
        return send(200, 'application/json', `${JSON.stringify(source.status(), null, 2)}\n`);
      default:
        return send(404, 'text/plain', 'not found: try /metrics, /healthz, /readyz, /status\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
