/**
 * netwarden's one HTTP transport to the API server: each request goes as the kubeconfig's user
 * (its CA, client certificate, token, impersonation, proxy) over Node.js's own `node:https` (or
 * `node:http` for a plain-HTTP server the kubeconfig allows), on one keep-alive agent per
 * {@link KubeHttp}.
 *
 * client-node stays the API client: its KubeConfig applies the credentials
 * (`applyToHTTPSOptions`, the path its own WebSocket and proxy code takes) and its typed APIs
 * run over this transport through their documented `httpApi` option ({@link KubeHttpLibrary}).
 * What is left out is its default transport, npm undici's fetch. A process streaming four watches
 * and making one request a second held 83 MB RSS over undici against 61 MB over `node:https`
 * (28 MB anonymous against 16, heap 11.7 MB against 5.9; medians of 2, this machine, stop 34).
 */
import http from 'node:http';
import https from 'node:https';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import {
  type HttpLibrary,
  type KubeConfig,
  Observable,
  type RequestContext,
  ResponseContext,
  SelfDecodingBody,
} from '@kubernetes/client-node';
import { NetwardenError } from '../errors.ts';

/** One request: `headers` are the caller's (Accept, Content-Type); credentials are added. */
export interface KubeHttpRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | undefined;
  /** Aborts the request, and its response's body if that is still being read. */
  readonly signal?: AbortSignal | undefined;
}

/** An answer: status, headers (lower-case names) and the body as a stream, already un-gzipped. */
export interface KubeHttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Readable;
}

/**
 * The most a response read whole ({@link readBody}) may hold: a page of 500 objects is a few MB,
 * so this is only reached by a server misbehaving, and then memory stays bounded.
 */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

/**
 * TCP keep-alive probes on idle connections start after 30 s, as client-go's and client-node's
 * own transports do (Node.js's agent default is 1 s: a probe a second on every quiet watch).
 */
const TCP_KEEPALIVE_MS = 30_000;

/** Requests as one kubeconfig's user. Holds one keep-alive agent; connections are reused. */
export class KubeHttp {
  readonly #kc: KubeConfig;
  readonly #userAgent: string;
  #agent: http.Agent | undefined;

  constructor(kc: KubeConfig, userAgent = 'netwarden') {
    this.#kc = kc;
    this.#userAgent = userAgent;
  }

  /**
   * Sends `req` and resolves once the response's headers are in; rejects with the network error
   * (its `code`, e.g. ECONNREFUSED) or an AbortError when `signal` fired. The body is the
   * caller's to read or destroy. Asks for gzip (the API server compresses large lists).
   */
  async send(req: KubeHttpRequest): Promise<KubeHttpResponse> {
    // Credentials are applied per request: an in-cluster token file is read again as it rotates.
    const opts: https.RequestOptions = {};
    await this.#kc.applyToHTTPSOptions(opts);
    const secure = req.url.protocol === 'https:';
    // A proxy (the kubeconfig's proxy-url) keeps client-node's proxy agent; else our keep-alive one.
    const agent = this.#kc.getCurrentCluster()?.proxyUrl ? opts.agent : this.#ownAgent(secure);
    const headers: Record<string, string> = {
      'user-agent': this.#userAgent,
      'accept-encoding': 'gzip',
      // client-node sets them as an object (Authorization, Impersonate-User).
      ...stringHeaders(opts.headers as http.OutgoingHttpHeaders | undefined),
      ...stringHeaders(req.headers),
    };
    if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
    const options: https.RequestOptions = { ...opts, method: req.method, headers, agent };
    if (req.signal) options.signal = req.signal;
    const send = secure ? https.request : http.request;
    return new Promise((resolve, reject) => {
      const r = send(req.url, options, (res) => {
        const gzip = res.headers['content-encoding'] === 'gzip';
        const body: Readable = gzip ? pipeline(res, createGunzip(), () => {}) : res;
        resolve({ status: res.statusCode ?? 0, headers: stringHeaders(res.headers), body });
      });
      r.on('error', reject);
      r.end(req.body);
    });
  }

  #ownAgent(secure: boolean): http.Agent {
    this.#agent ??= new (secure ? https.Agent : http.Agent)({
      keepAlive: true,
      keepAliveMsecs: TCP_KEEPALIVE_MS,
    });
    return this.#agent;
  }
}

/** A response's whole body, at most `limit` bytes (else an error naming `what`; the stream is cut). */
export async function readBody(res: KubeHttpResponse, what: string, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    size += buf.length;
    if (size > limit) {
      res.body.destroy();
      throw new NetwardenError('kube-api', `${what}: the answer is larger than ${limit} bytes`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, size);
}

/**
 * client-node's typed APIs (CoreV1Api, …) over a {@link KubeHttp}: pass it as `httpApi` to
 * `createConfiguration` and leave `authMethods` out (the transport applies the credentials).
 */
export class KubeHttpLibrary implements HttpLibrary {
  readonly #http: KubeHttp;

  constructor(transport: KubeHttp) {
    this.#http = transport;
  }

  send(ctx: RequestContext): Observable<ResponseContext> {
    return new Observable(this.#send(ctx));
  }

  async #send(ctx: RequestContext): Promise<ResponseContext> {
    const body = ctx.getBody();
    if (body !== undefined && typeof body !== 'string') {
      throw new NetwardenError(
        'kube-api',
        `${ctx.getHttpMethod()} ${ctx.getUrl()}: only JSON bodies are sent`,
      );
    }
    const url = new URL(ctx.getUrl());
    const res = await this.#http.send({
      method: ctx.getHttpMethod(),
      url,
      headers: ctx.getHeaders(),
      body,
      signal: ctx.getSignal(),
    });
    const data = readBody(res, `${ctx.getHttpMethod()} ${url.pathname}`);
    // client-node reads every answer's body; this only keeps a cut one from being unhandled first.
    data.catch(() => {});
    return new ResponseContext(res.status, { ...res.headers }, new SelfDecodingBody(data));
  }
}

/** Header values as single strings (repeated ones joined with ", ", as fetch's Headers does). */
function stringHeaders(
  h: http.OutgoingHttpHeaders | http.IncomingHttpHeaders | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}
