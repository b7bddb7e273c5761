/**
 * The one place that turns a kubeconfig into API clients, raw watch streams and typed errors, and
 * that every request goes through ({@link KubeClient.call}): each attempt has a deadline, 5xx and
 * 429 are retried with back-off (retry.ts), and failures come out as KubeApiError.
 * Everything else in `kube/` builds on this; nothing outside `kube/` sees client-node types.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import {
  ApiException,
  type Configuration,
  type ConfigurationOptions,
  CoreV1Api,
  createConfiguration,
  DiscoveryV1Api,
  EventsV1Api,
  type KubeConfig,
  KubernetesObjectApi,
  Observable,
  type ObservableMiddleware,
  PolicyV1Api,
  ServerConfiguration,
} from '@kubernetes/client-node';
import { type Clock, systemClock } from '../core/clock.ts';
import { type ErrorCode, NetwardenError } from '../errors.ts';
import { VERSION } from '../version.ts';
import type { LoadedKubeConfig } from './config.ts';
import { KubeHttp, KubeHttpLibrary, type KubeHttpResponse, readBody } from './http.ts';
import { FrameReader } from './protobuf.ts';
import { DEFAULT_RETRY, type RetryPolicy, retryDelay } from './retry.ts';
import type { ListResult, RawWatchEvent, WatchTransport } from './watch.ts';

/**
 * A NetwardenError carrying the HTTP status of a failed API call (0 when none was received):
 * code `kube-conflict` for 409, `kube-timeout` when the request's deadline passed, else `kube-api`.
 */
export class KubeApiError extends NetwardenError {
  readonly status: number;
  readonly reason: string | undefined;
  /** The metav1.Status `details.causes[].reason`s (validation errors name them). */
  readonly causes: readonly string[];
  constructor(
    what: string,
    status: number,
    reason: string | undefined,
    detail: string,
    cause: unknown,
    extra: { code?: ErrorCode; causes?: readonly string[] } = {},
  ) {
    super(extra.code ?? (status === 409 ? 'kube-conflict' : 'kube-api'), `${what}: ${detail}`, { cause });
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
    this.causes = extra.causes ?? [];
  }
}

/** The HTTP status of an error thrown by client-node or {@link KubeClient.call}, or 0 (network error, timeout). */
export function httpStatus(err: unknown): number {
  if (err instanceof KubeApiError) return err.status;
  if (err instanceof ApiException) return err.code;
  if (typeof err === 'object' && err !== null) {
    const e = err as { statusCode?: unknown; code?: unknown };
    if (typeof e.statusCode === 'number') return e.statusCode;
  }
  return 0;
}

/** Wraps any client-node failure as a KubeApiError naming the operation and the API's reason. */
export function apiError(what: string, err: unknown): KubeApiError {
  const status = httpStatus(err);
  let reason: string | undefined;
  let causes: string[] = [];
  let detail = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
  if (err instanceof ApiException) {
    const body = parseStatusBody(err.body);
    reason = body.reason;
    causes = body.causes;
    detail = `HTTP ${err.code}${body.reason ? ` ${body.reason}` : ''}${body.message ? `: ${body.message}` : ''}`;
  } else if (status === 0) {
    // A network error: node:https's carries its code itself; one wrapped by fetch, in its cause.
    const e = err as { code?: unknown; message?: string; cause?: { code?: unknown; message?: string } };
    const net = typeof e?.code === 'string' ? e : e?.cause;
    if (typeof net?.code === 'string') detail = `${net.code}${net.message ? `: ${net.message}` : ''}`;
  }
  return new KubeApiError(what, status, reason, detail, err, { causes });
}

/** The `Retry-After` header of a failed response, when there was one. */
function retryAfterOf(err: unknown): string | undefined {
  if (!(err instanceof ApiException)) return undefined;
  const headers = (err.headers ?? {}) as Record<string, string | undefined>;
  return headers['retry-after'] ?? headers['Retry-After'];
}

/** Middleware that attaches the signal `signalOf()` gives (if any) to the request, for fetch. */
function signalMiddleware(signalOf: () => AbortSignal | undefined): ObservableMiddleware {
  return {
    pre: (ctx) => {
      const signal = signalOf();
      if (signal) ctx.setSignal(signal);
      return new Observable(Promise.resolve(ctx));
    },
    post: (res) => new Observable(Promise.resolve(res)),
  };
}

/** Options of a {@link KubeClient}: the defaults of every request it makes. */
export interface KubeClientOptions {
  /** Deadline of one attempt of a request (default 10 s). */
  readonly requestTimeoutMs?: number;
  /** Retries of 5xx and 429 (default {@link DEFAULT_RETRY}). */
  readonly retry?: RetryPolicy;
  readonly clock?: Clock;
  /** How the client waits between attempts; tests may shorten it. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Objects per page of a watch transport's list (default {@link LIST_PAGE_SIZE}). */
  readonly listPageSize?: number;
}

/** Counters of a client's requests, for metrics and tests. */
export interface KubeClientStats {
  /** Attempts sent, retries included. */
  readonly requests: number;
  /** Attempts that were retries after a 5xx or 429. */
  readonly retries: number;
  /** Waits before those retries, in ms, in order (the last 100). */
  readonly retryWaitsMs: readonly number[];
  /** Attempts that hit their deadline. */
  readonly timeouts: number;
}

/** The default deadline of one request: the API server answers in milliseconds when healthy. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/** The `reason`, `message` and `details.causes` of a metav1.Status body, however it arrived. */
export function parseStatusBody(body: unknown): { reason?: string; message?: string; causes: string[] } {
  let obj: unknown = body;
  if (typeof body === 'string') {
    try {
      obj = JSON.parse(body);
    } catch {
      return { message: body.slice(0, 300), causes: [] };
    }
  }
  if (typeof obj !== 'object' || obj === null) return { causes: [] };
  const s = obj as { reason?: unknown; message?: unknown; details?: { causes?: { reason?: unknown }[] } };
  const out: { reason?: string; message?: string; causes: string[] } = {
    causes: (s.details?.causes ?? []).map((c) => String(c.reason ?? '')).filter((r) => r.length > 0),
  };
  if (typeof s.reason === 'string') out.reason = s.reason;
  if (typeof s.message === 'string') out.message = s.message;
  return out;
}

/** KubernetesObjectApi with the kubeconfig's namespace as default, as its makeApiClient sets it. */
class ObjectApiWithDefaults extends KubernetesObjectApi {
  constructor(config: ConstructorParameters<typeof KubernetesObjectApi>[0], kc: KubeConfig) {
    super(config);
    this.setDefaultNamespace(kc);
  }
}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}

/**
 * Server-side watch timeout, drawn per watch from [5, 10) minutes as client-go's reflector does,
 * so a fleet's watches neither re-open often nor all at once. The stream then ends cleanly and the
 * reflector resumes from its last resourceVersion (no replay).
 */
export function watchTimeoutSeconds(random: () => number = Math.random): number {
  return 300 + Math.floor(random() * 300);
}

/**
 * A watch stream that delivers nothing for this long is taken as dead (a half-open connection
 * after a network cut) and ended with an error, so the reflector resumes. The API server sends
 * BOOKMARKs on watches that ask for them: on v1.36.5 in the lab the first came 120 s after the
 * watch opened, then one a minute, so a live quiet watch is not cut.
 */
export const WATCH_IDLE_MS = 200_000;

/** The Kubernetes protobuf media type; a watch answered in it is framed (protobuf.ts). */
const PROTOBUF_MEDIA_TYPE = 'application/vnd.kubernetes.protobuf';
/** What a watch that can read protobuf asks for: protobuf, else JSON. */
const PROTOBUF_OR_JSON = `${PROTOBUF_MEDIA_TYPE};stream=watch, application/json`;
/** No watch event is this large (etcd holds objects up to ~1.5 MB): beyond it the stream is cut. */
const MAX_WATCH_FRAME_BYTES = 16 * 1024 * 1024;

/** Objects per page of a list: client-go's reflector pages its lists by 500 too. */
export const LIST_PAGE_SIZE = 500;

/** A bound on a list's pages (500 × 10,000 = five million objects), so a bad server cannot loop us. */
const MAX_LIST_PAGES = 10_000;

/** API clients for one kubeconfig. Cheap to create; holds no connections of its own. */
export class KubeClient {
  readonly kc: KubeConfig;
  readonly server: string;
  readonly core: CoreV1Api;
  readonly policy: PolicyV1Api;
  readonly events: EventsV1Api;
  readonly discovery: DiscoveryV1Api;
  readonly #timeoutMs: number;
  readonly #retry: RetryPolicy;
  readonly #clock: Clock;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #listPageSize: number;
  readonly #http: KubeHttp;
  readonly #httpApi: KubeHttpLibrary;
  #stats = { requests: 0, retries: 0, retryWaitsMs: [] as number[], timeouts: 0 };
  // The signal of the attempt in progress, for APIs that take no per-call middleware (objectApi).
  readonly #signal = new AsyncLocalStorage<AbortSignal>();

  constructor(loaded: LoadedKubeConfig, opts: KubeClientOptions = {}) {
    this.kc = loaded.kc;
    this.server = loaded.server;
    this.#http = new KubeHttp(loaded.kc, `netwarden/${VERSION}`);
    this.#httpApi = new KubeHttpLibrary(this.#http);
    this.core = new CoreV1Api(this.#configuration());
    this.policy = new PolicyV1Api(this.#configuration());
    this.events = new EventsV1Api(this.#configuration());
    this.discovery = new DiscoveryV1Api(this.#configuration());
    this.#timeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#retry = opts.retry ?? DEFAULT_RETRY;
    this.#clock = opts.clock ?? systemClock;
    this.#sleep = opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#listPageSize = opts.listPageSize ?? LIST_PAGE_SIZE;
  }

  /**
   * Runs one API request named `what`: `send` gets the options to pass to the client-node call
   * (merge them into others with `setHeaderOptions(…, options)`). Each attempt is aborted after
   * the deadline (`kube-timeout`, not retried: the caller's next round is the retry); 5xx and 429
   * are retried as `retry` says (false: never, for answers the caller interprets, like an
   * eviction's 429). Every failure is a KubeApiError naming `what`.
   */
  async call<T>(
    what: string,
    send: (options: ConfigurationOptions<ObservableMiddleware>) => Promise<T>,
    opts: { timeoutMs?: number; retry?: RetryPolicy | false } = {},
  ): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? this.#timeoutMs;
    const policy = opts.retry === false ? { ...this.#retry, maxAttempts: 1 } : (opts.retry ?? this.#retry);
    for (let attempt = 1; ; attempt++) {
      const signal = AbortSignal.timeout(timeoutMs);
      this.#stats.requests++;
      try {
        const options = {
          middleware: [signalMiddleware(() => signal)],
          middlewareMergeStrategy: 'append' as const,
        };
        return await this.#signal.run(signal, () => send(options));
      } catch (err) {
        if (signal.aborted) {
          this.#stats.timeouts++;
          throw new KubeApiError(what, 0, undefined, `no answer within ${timeoutMs} ms`, err, {
            code: 'kube-timeout',
          });
        }
        const failure = { status: httpStatus(err), ...optional('retryAfter', retryAfterOf(err)) };
        const wait = retryDelay(failure, attempt, policy, this.#clock.now());
        if (wait === undefined) throw apiError(what, err);
        this.#stats.retries++;
        this.#stats.retryWaitsMs = [...this.#stats.retryWaitsMs.slice(-99), wait];
        await this.#sleep(wait);
      }
    }
  }

  /**
   * A generic object API whose requests honour {@link call}'s deadline: client-node's
   * KubernetesObjectApi ignores per-call middleware, so its configuration carries one that reads
   * the signal of the call in progress.
   */
  objectApi(): KubernetesObjectApi {
    return new ObjectApiWithDefaults(
      this.#configuration([signalMiddleware(() => this.#signal.getStore())]),
      this.kc,
    );
  }

  /**
   * A typed API's configuration: this client's server, over its transport (http.ts), which
   * applies the kubeconfig's credentials itself, so no `authMethods` (client-node's would build
   * an undici dispatcher per request).
   */
  #configuration(middleware: ObservableMiddleware[] = []): Configuration {
    return createConfiguration({
      baseServer: new ServerConfiguration(this.server, {}),
      httpApi: this.#httpApi,
      middleware,
    });
  }

  /** Counters since the client was made. */
  stats(): KubeClientStats {
    return { ...this.#stats, retryWaitsMs: [...this.#stats.retryWaitsMs] };
  }

  /**
   * A watch transport for a collection at `path` (e.g. `/api/v1/nodes`), `params` (selectors)
   * applying to its list and its watch. Both read the JSON themselves instead of through
   * client-node's models: the list goes page by page ({@link LIST_PAGE_SIZE}) and each object
   * through the reflector's `keep` as its page arrives, so a 10,000-Service list never sits in
   * memory whole, twice (as text and as model objects).
   *
   * With `protobuf` (a decoder of one watch frame, e.g. proto-node.ts) the watch asks for
   * protobuf first and JSON second; what the server answered (its Content-Type) decides how the
   * stream is read, so a server that only speaks JSON for the kind still works.
   */
  transport<T>(
    path: string,
    params: Record<string, string> = {},
    opts: { protobuf?: (frame: Buffer) => RawWatchEvent } = {},
  ): WatchTransport<T> {
    return {
      list: (keep) => this.#listPaged<T>(path, params, keep),
      watch: (resourceVersion, onEvent, onDone) =>
        this.#watchStream(path, { ...params, resourceVersion }, onEvent, onDone, opts.protobuf),
    };
  }

  async #listPaged<T>(
    path: string,
    params: Record<string, string>,
    keep: (obj: T) => T,
  ): Promise<ListResult<T>> {
    const items: T[] = [];
    let token: string | undefined;
    for (let page = 1; page <= MAX_LIST_PAGES; page++) {
      const query = { ...params, limit: String(this.#listPageSize), ...(token ? { continue: token } : {}) };
      const body = await this.call(`list ${path}${page > 1 ? ` (page ${page})` : ''}`, async () => {
        const res = await this.#get(path, query, this.#signal.getStore());
        const text = (await readBody(res, `list ${path}`)).toString('utf8');
        if (res.status !== 200) throw failedResponse(res, text);
        return JSON.parse(text) as {
          items?: T[] | null;
          metadata?: { resourceVersion?: string; continue?: string };
        };
      });
      for (const obj of body.items ?? []) items.push(keep(obj));
      token = body.metadata?.continue || undefined;
      // Every page carries the resourceVersion of the snapshot the first page was served from.
      if (!token) return { items, resourceVersion: body.metadata?.resourceVersion ?? '' };
    }
    throw new NetwardenError('kube-api', `list ${path}: more than ${MAX_LIST_PAGES} pages`);
  }

  /**
   * One watch stream: events line by line to `onEvent`; `onDone` exactly once when it ends (the
   * server's timeout: null; a cut, an abort's aftermath or {@link WATCH_IDLE_MS} of silence: an
   * error). Resolves once the server has answered 200; a refused watch (e.g. 410) rejects.
   * JSON streams go line by line; protobuf ones (`protobuf` given, and the server agreed) frame
   * by frame, each through `protobuf`. An event that cannot be read ends the stream with an error
   * (the reflector resumes, then lists again): never a guess.
   */
  async #watchStream(
    path: string,
    params: Record<string, string>,
    onEvent: (ev: RawWatchEvent) => void,
    onDone: (err: unknown) => void,
    protobuf?: (frame: Buffer) => RawWatchEvent,
  ): Promise<{ abort(): void }> {
    const controller = new AbortController();
    let ended = false;
    let idle: NodeJS.Timeout | undefined;
    const end = (err: unknown): void => {
      if (ended) return;
      ended = true;
      clearTimeout(idle);
      controller.abort();
      onDone(err);
    };
    const touch = (): void => {
      clearTimeout(idle);
      idle = setTimeout(
        () =>
          end(new KubeApiError(`watch ${path}`, 0, undefined, `no data for ${WATCH_IDLE_MS} ms`, undefined)),
        WATCH_IDLE_MS,
      );
      idle.unref();
    };
    const query = {
      ...params,
      watch: 'true',
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(watchTimeoutSeconds()),
    };
    // Until the server answers, the request's deadline applies; then only the idle timer does.
    const connect = setTimeout(() => controller.abort(), this.#timeoutMs);
    let res: KubeHttpResponse;
    try {
      res = await this.#get(path, query, controller.signal, protobuf ? PROTOBUF_OR_JSON : undefined);
      if (res.status !== 200)
        throw failedResponse(res, (await readBody(res, `watch ${path}`)).toString('utf8'));
    } catch (err) {
      ended = true;
      controller.abort();
      if (err instanceof ApiException) throw apiError(`watch ${path}`, err);
      throw new KubeApiError(`watch ${path}`, 0, undefined, connectFailure(err, this.#timeoutMs), err);
    } finally {
      clearTimeout(connect);
    }
    touch();
    const body = res.body;
    body.on('error', end);
    const sink: StreamSink = { live: () => !ended, touch, event: onEvent, end };
    if (protobuf && (res.headers['content-type'] ?? '').startsWith(PROTOBUF_MEDIA_TYPE))
      readFrames(body, path, protobuf, sink);
    else readJsonLines(body, path, sink);
    return { abort: () => end(null) };
  }

  /** A GET as the kubeconfig's user (its credentials and TLS settings); the response is the caller's. */
  #get(
    path: string,
    query: Record<string, string>,
    signal: AbortSignal | undefined,
    accept = 'application/json',
  ): Promise<KubeHttpResponse> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    return this.#http.send({ method: 'GET', url, headers: { accept }, signal });
  }
}

/** Where a watch stream's reader delivers: events while `live()`, `touch` on any data, `end` once. */
interface StreamSink {
  live(): boolean;
  touch(): void;
  event(ev: RawWatchEvent): void;
  end(err: unknown): void;
}

/** A JSON watch stream: one event per line. */
function readJsonLines(body: Readable, path: string, sink: StreamSink): void {
  const lines = createInterface({ input: body, crlfDelay: Number.POSITIVE_INFINITY });
  // readline re-emits the input's errors (a cut stream, our own abort): unheard, they would crash.
  lines.on('error', sink.end);
  lines.on('line', (line) => {
    if (!sink.live()) return;
    sink.touch();
    if (line.length === 0) return;
    let ev: RawWatchEvent;
    try {
      ev = JSON.parse(line) as RawWatchEvent;
    } catch {
      sink.end(new Error(`watch ${path}: the server sent a line that is not JSON`));
      return;
    }
    sink.event(ev);
  });
  lines.on('close', () => sink.end(null));
}

/** A protobuf watch stream: length-prefixed frames, each one event through `decode`. */
function readFrames(
  body: Readable,
  path: string,
  decode: (frame: Buffer) => RawWatchEvent,
  sink: StreamSink,
): void {
  const frames = new FrameReader(MAX_WATCH_FRAME_BYTES);
  body.on('data', (chunk: Uint8Array) => {
    if (!sink.live()) return;
    sink.touch();
    try {
      for (const frame of frames.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)))
        if (sink.live()) sink.event(decode(frame));
    } catch (err) {
      sink.end(
        new Error(`watch ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err }),
      );
    }
  });
  const closed = (): void =>
    sink.end(frames.pendingBytes() > 0 ? new Error(`watch ${path}: the stream ended inside a frame`) : null);
  body.on('end', closed);
  body.on('close', closed);
}

/** Why a watch could not be opened: the deadline, or the network error's code. */
function connectFailure(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && err.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  return apiError('', err).message.replace(/^: /, '');
}

/** A non-200 answer as client-node reports one, so {@link apiError} and the retries read it alike. */
function failedResponse(res: KubeHttpResponse, body: string): ApiException<string> {
  return new ApiException(res.status, `HTTP ${res.status}`, body.slice(0, 64 * 1024), { ...res.headers });
}
