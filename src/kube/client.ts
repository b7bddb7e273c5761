/**
 * The one place that turns a kubeconfig into API clients, raw watch streams and typed errors, and
 * that every request goes through ({@link KubeClient.call}): each attempt has a deadline, 5xx and
 * 429 are retried with back-off (retry.ts), and failures come out as KubeApiError.
 * Everything else in `kube/` builds on this; nothing outside `kube/` sees client-node types.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  ApiException,
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
  Watch,
} from '@kubernetes/client-node';
import { type Clock, systemClock } from '../core/clock.ts';
import { type ErrorCode, NetwardenError } from '../errors.ts';
import type { LoadedKubeConfig } from './config.ts';
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
    const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
    if (cause?.code) detail = `${cause.code}${cause.message ? `: ${cause.message}` : ''}`;
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
 * Server-side watch timeout. client-node aborts a stream after 30 s without data; asking the
 * server to end it cleanly first turns that into an ordinary resume instead of an error.
 */
const WATCH_TIMEOUT_SECONDS = 25;

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
  #stats = { requests: 0, retries: 0, retryWaitsMs: [] as number[], timeouts: 0 };
  // The signal of the attempt in progress, for APIs that take no per-call middleware (objectApi).
  readonly #signal = new AsyncLocalStorage<AbortSignal>();

  constructor(loaded: LoadedKubeConfig, opts: KubeClientOptions = {}) {
    this.kc = loaded.kc;
    this.server = loaded.server;
    this.core = loaded.kc.makeApiClient(CoreV1Api);
    this.policy = loaded.kc.makeApiClient(PolicyV1Api);
    this.events = loaded.kc.makeApiClient(EventsV1Api);
    this.discovery = loaded.kc.makeApiClient(DiscoveryV1Api);
    this.#timeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#retry = opts.retry ?? DEFAULT_RETRY;
    this.#clock = opts.clock ?? systemClock;
    this.#sleep = opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
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
    const config = createConfiguration({
      baseServer: new ServerConfiguration(this.server, {}),
      authMethods: { default: this.kc },
      middleware: [signalMiddleware(() => this.#signal.getStore())],
    });
    return new ObjectApiWithDefaults(config, this.kc);
  }

  /** Counters since the client was made. */
  stats(): KubeClientStats {
    return { ...this.#stats, retryWaitsMs: [...this.#stats.retryWaitsMs] };
  }

  /**
   * A watch transport for a collection at `path` (e.g. `/api/v1/nodes`). `list` must return the
   * same collection with its resourceVersion; `params` (selectors) apply to both.
   */
  transport<T>(
    path: string,
    list: () => Promise<ListResult<T>>,
    params: Record<string, string> = {},
  ): WatchTransport<T> {
    const watcher = new Watch(this.kc);
    return {
      list,
      async watch(resourceVersion, onEvent, onDone) {
        const controller = await watcher.watch(
          path,
          { ...params, resourceVersion, allowWatchBookmarks: true, timeoutSeconds: WATCH_TIMEOUT_SECONDS },
          (type: string, object: unknown) => onEvent({ type, object } satisfies RawWatchEvent),
          onDone,
        );
        return { abort: () => controller.abort() };
      },
    };
  }
}
