/** Small HTTP(S) GET with a deadline and a body cap, for health endpoints and probes. */
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** Client TLS material as file paths. */
export interface TlsFiles {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

/** A finished request: the status code and (capped) body, or the error that prevented one. */
export type HttpResult =
  | { readonly ok: true; readonly status: number; readonly body: string; readonly durationMs: number }
  | { readonly ok: false; readonly error: string; readonly durationMs: number };

/** GETs `url`; never throws. Connection errors and timeouts come back as `{ ok: false }`. */
export function httpGet(
  url: string,
  opts: {
    timeoutMs?: number;
    maxBytes?: number;
    tls?: TlsFiles;
    headers?: Record<string, string>;
    /** Skip server certificate verification (self-signed health endpoints of lab components). */
    insecure?: boolean;
  } = {},
): Promise<HttpResult> {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const maxBytes = opts.maxBytes ?? 4 * 1024 * 1024;
  const started = performance.now();
  const elapsed = (): number => performance.now() - started;
  return new Promise((resolve) => {
    const u = new URL(url);
    const tls = opts.tls
      ? {
          ...(opts.tls.ca ? { ca: readFileSync(opts.tls.ca) } : {}),
          ...(opts.tls.cert ? { cert: readFileSync(opts.tls.cert) } : {}),
          ...(opts.tls.key ? { key: readFileSync(opts.tls.key) } : {}),
        }
      : {};
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(
      u,
      {
        method: 'GET',
        timeout: timeoutMs,
        headers: opts.headers,
        ...tls,
        ...(opts.insecure ? { rejectUnauthorized: false } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (b: Buffer) => {
          size += b.length;
          if (size <= maxBytes) chunks.push(b);
        });
        res.on('end', () =>
          resolve({
            ok: true,
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            durationMs: elapsed(),
          }),
        );
        res.on('error', (e) => resolve({ ok: false, error: e.message, durationMs: elapsed() }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', (e: NodeJS.ErrnoException) =>
      resolve({ ok: false, error: e.code ? `${e.code}: ${e.message}` : e.message, durationMs: elapsed() }),
    );
    req.end();
  });
}
