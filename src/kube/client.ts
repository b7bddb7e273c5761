/**
 * The one place that turns a kubeconfig into API clients, raw watch streams and typed errors.
 * Everything else in `kube/` builds on this; nothing outside `kube/` sees client-node types.
 */
import {
  ApiException,
  CoreV1Api,
  DiscoveryV1Api,
  EventsV1Api,
  type KubeConfig,
  PolicyV1Api,
  Watch,
} from '@kubernetes/client-node';
import { NetwardenError } from '../errors.ts';
import type { LoadedKubeConfig } from './config.ts';
import type { ListResult, RawWatchEvent, WatchTransport } from './watch.ts';

/** A NetwardenError carrying the HTTP status of a failed API call (0 when none was received). */
export class KubeApiError extends NetwardenError {
  readonly status: number;
  readonly reason: string | undefined;
  constructor(what: string, status: number, reason: string | undefined, detail: string, cause: unknown) {
    super(status === 409 ? 'kube-conflict' : 'kube-api', `${what}: ${detail}`, { cause });
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
  }
}

/** The HTTP status of an error thrown by client-node, or 0 (network error, timeout). */
export function httpStatus(err: unknown): number {
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
  let detail = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
  if (err instanceof ApiException) {
    const body = parseStatusBody(err.body);
    reason = body.reason;
    detail = `HTTP ${err.code}${body.reason ? ` ${body.reason}` : ''}${body.message ? `: ${body.message}` : ''}`;
  } else if (status === 0) {
    const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
    if (cause?.code) detail = `${cause.code}${cause.message ? `: ${cause.message}` : ''}`;
  }
  return new KubeApiError(what, status, reason, detail, err);
}

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

  constructor(loaded: LoadedKubeConfig) {
    this.kc = loaded.kc;
    this.server = loaded.server;
    this.core = loaded.kc.makeApiClient(CoreV1Api);
    this.policy = loaded.kc.makeApiClient(PolicyV1Api);
    this.events = loaded.kc.makeApiClient(EventsV1Api);
    this.discovery = loaded.kc.makeApiClient(DiscoveryV1Api);
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
