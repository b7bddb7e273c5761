import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import {
  ApiException,
  CoreV1Api,
  createConfiguration,
  KubeConfig,
  ServerConfiguration,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeHttp, KubeHttpLibrary, readBody } from './http.ts';

// A plain-HTTP server on loopback stands in for the API server: what is tested here is the
// transport's own work (credentials, headers, reuse, gzip, bounds, abort). The real API server's
// TLS, lists and watches go through it in the integration tests (test/integration/watch.test.ts).
interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}
const seen: Seen[] = [];
let connections = 0;
let server: Server;
let base: string;
let handler: (req: IncomingMessage, res: ServerResponse, body: string) => void = (_req, res) => res.end('{}');

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: base, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'tok-1', impersonateUser: 'someone' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

describe('KubeHttp', () => {
  it("sends the kubeconfig's credentials and the caller's headers and body; reuses one connection", async () => {
    handler = (_req, res) =>
      res.writeHead(201, { 'content-type': 'application/json', 'x-two': ['a', 'b'] }).end('{"ok":1}');
    const http = new KubeHttp(kubeConfig(), 'netwarden-test');
    const before = connections;
    seen.length = 0;
    for (let i = 0; i < 3; i++) {
      const res = await http.send({
        method: 'POST',
        url: new URL(`${base}/api/v1/x?i=${i}`),
        headers: { 'Content-Type': 'application/json' },
        body: '{"é":1}',
      });
      expect(res.status).toBe(201);
      expect(res.headers['content-type']).toBe('application/json');
      expect(res.headers['x-two']).toBe('a, b');
      expect((await readBody(res, 'x')).toString()).toBe('{"ok":1}');
    }
    expect(seen.map((s) => s.url)).toEqual(['/api/v1/x?i=0', '/api/v1/x?i=1', '/api/v1/x?i=2']);
    const h = seen[0]?.headers ?? {};
    expect(h.authorization).toBe('Bearer tok-1');
    expect(h['impersonate-user']).toBe('someone');
    expect(h['user-agent']).toBe('netwarden-test');
    expect(h['content-type']).toBe('application/json');
    expect(h['content-length']).toBe(String(Buffer.byteLength('{"é":1}')));
    expect(seen[0]?.body).toBe('{"é":1}');
    expect(connections - before).toBe(1);
  });

  it('asks for gzip and un-gzips the answer', async () => {
    handler = (_req, res) =>
      res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync('x'.repeat(100_000)));
    const res = await new KubeHttp(kubeConfig()).send({ method: 'GET', url: new URL(`${base}/big`) });
    expect(seen.at(-1)?.headers['accept-encoding']).toBe('gzip');
    expect((await readBody(res, 'big')).toString()).toBe('x'.repeat(100_000));
  });

  it('cuts an answer larger than the bound, naming what was read', async () => {
    handler = (_req, res) => res.end('y'.repeat(10_000));
    const res = await new KubeHttp(kubeConfig()).send({ method: 'GET', url: new URL(`${base}/huge`) });
    await expect(readBody(res, 'list /huge', 1000)).rejects.toThrow(
      'list /huge: the answer is larger than 1000 bytes',
    );
  });

  it('rejects with the network error or the abort', async () => {
    const http = new KubeHttp(kubeConfig());
    await expect(http.send({ method: 'GET', url: new URL('http://127.0.0.1:1/') })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    handler = () => {}; // never answers
    await expect(
      http.send({ method: 'GET', url: new URL(`${base}/slow`), signal: AbortSignal.timeout(100) }),
    ).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('KubeHttpLibrary', () => {
  it("carries client-node's typed APIs: a read, and a failure as ApiException with its body", async () => {
    const api = new CoreV1Api(
      createConfiguration({
        baseServer: new ServerConfiguration(base, {}),
        httpApi: new KubeHttpLibrary(new KubeHttp(kubeConfig())),
      }),
    );
    handler = (req, res) => {
      if (req.url === '/api/v1/nodes/n1')
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end('{"kind":"Node","metadata":{"name":"n1"}}');
      else
        res
          .writeHead(404, { 'content-type': 'application/json' })
          .end('{"kind":"Status","reason":"NotFound"}');
    };
    expect((await api.readNode({ name: 'n1' })).metadata?.name).toBe('n1');
    expect(seen.at(-1)?.headers.authorization).toBe('Bearer tok-1');
    const err = await api.readNode({ name: 'n2' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiException);
    expect((err as ApiException<string>).code).toBe(404);
    expect(String((err as ApiException<string>).body)).toContain('NotFound');
  });
});
