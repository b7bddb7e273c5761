/**
 * A list-then-watch loop ("reflector") that never silently loses a change:
 * - it lists, then watches from the list's resourceVersion;
 * - when the watch ends (server timeout, dropped connection, API server restart) it resumes from
 *   the last resourceVersion it saw, with bounded back-off;
 * - when the server answers 410 Gone (the resourceVersion was compacted away), it lists again and
 *   turns the difference between what it knew and the new list into ADDED/MODIFIED/DELETED events.
 * Handlers therefore see every state change, possibly coalesced, never a stale cache.
 */
import { describeError } from '../errors.ts';
import { objectKey, type WatchEvent, type WatchEventType } from './types.ts';

/** The minimum every watched object has. */
export interface Watchable {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

/** A finished list: the objects and the collection's resourceVersion. */
export interface ListResult<T> {
  readonly items: T[];
  readonly resourceVersion: string;
}

/** How a watch stream is read: protobuf (what kube-proxy and the kubelet speak) or JSON. */
export type WatchEncoding = 'protobuf' | 'json';

/** Raw event as the watch stream delivers it (`ERROR` and `BOOKMARK` included). */
export interface RawWatchEvent {
  readonly type: string;
  readonly object: unknown;
}

/** How a reflector talks to the API: one list and one watch stream at a time. */
export interface WatchTransport<T> {
  /**
   * Lists the collection. Each object goes through `keep` as soon as it arrives (page by page), so
   * a large collection is never held whole in the form the server sent it.
   */
  list(keep: (obj: T) => T): Promise<ListResult<T>>;
  /**
   * Opens a watch from `resourceVersion`. `onEvent` receives each event; `onDone` is called exactly
   * once when the stream ends, with the error (an HTTP 410 has `statusCode: 410`) or null.
   */
  watch(
    resourceVersion: string,
    onEvent: (ev: RawWatchEvent) => void,
    onDone: (err: unknown) => void,
  ): Promise<{ abort(): void }>;
}

/** Callbacks of a reflector. `onSynced` fires after every (re)list has been delivered. */
export interface ReflectorHandlers<T> {
  /**
   * What of each object is kept (e.g. only the fields the agent reads), applied to every listed and
   * watched object before the reflector stores it and before `onEvent` sees it: the reflector's
   * store and the handler's cache then share one slim object instead of holding two copies.
   * Must keep metadata.name, namespace and resourceVersion. Default: the object as received.
   */
  keep?(obj: T): T;
  /**
   * The handler's own map of the latest object per key ({@link objectKey}), which its `onEvent`
   * keeps: set on ADDED and MODIFIED, deleted on DELETED, before it returns. Given, the reflector
   * keeps no map of its own and reads this one (to turn a relist into events, for `snapshot()`):
   * one map per watch, not the handler's beside the reflector's (at 10,000 Services, two maps of
   * 10,000 entries and 20,000 key strings less). Default: the reflector keeps its own.
   */
  readonly store?: Map<string, T>;
  onEvent(ev: WatchEvent<T>): void;
  onSynced?(): void;
  onError?(message: string): void;
}

/** Back-off and pacing of a reflector; injectable so unit tests run instantly. */
export interface ReflectorTiming {
  readonly minBackoffMs: number;
  readonly maxBackoffMs: number;
  /**
   * How long (in back-off time slept) the first list is retried before start() gives up: a fleet
   * restarted at once queues its lists on the API server, and one slow answer must not end a process.
   */
  readonly firstListRetryMs: number;
  readonly sleep: (ms: number) => Promise<void>;
}

const defaultTiming: ReflectorTiming = {
  minBackoffMs: 200,
  maxBackoffMs: 5_000,
  firstListRetryMs: 60_000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * The events that turn the state `known` into the state `listed`: the pure core of a relist.
 * An object whose resourceVersion did not change produces no event.
 */
export function relistDiff<T extends Watchable>(
  known: ReadonlyMap<string, T>,
  listed: readonly T[],
): WatchEvent<T>[] {
  const events: WatchEvent<T>[] = [];
  const seen = new Set<string>();
  for (const obj of listed) {
    const key = objectKey(obj);
    seen.add(key);
    const old = known.get(key);
    if (!old) events.push({ type: 'ADDED', object: obj });
    else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion)
      events.push({ type: 'MODIFIED', object: obj });
  }
  for (const [key, old] of known) {
    if (!seen.has(key)) events.push({ type: 'DELETED', object: old });
  }
  return events;
}

function isGone(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  // An in-stream Status has `code`, client-node's errors `statusCode` or `code`, ours `status`.
  const e = err as { statusCode?: unknown; code?: unknown; status?: unknown };
  return e.statusCode === 410 || e.code === 410 || e.status === 410;
}

/** Runs list+watch until {@link Reflector.stop}; keeps the latest state of every object. */
export class Reflector<T extends Watchable> {
  readonly #transport: WatchTransport<T>;
  readonly #handlers: ReflectorHandlers<T>;
  readonly #timing: ReflectorTiming;
  readonly #keep: (obj: T) => T;
  /** The latest kept object of each key: the only copy, shared with the handler's cache. */
  readonly #known: Map<string, T>;
  /** Whether {@link #known} is the handler's (`store`), which its onEvent keeps. */
  readonly #handlerKeepsStore: boolean;
  #resourceVersion = '';
  #stopped = false;
  #current: { abort(): void } | undefined;
  #loop: Promise<void> | undefined;
  #relists = 0;
  #resumes = 0;

  constructor(
    transport: WatchTransport<T>,
    handlers: ReflectorHandlers<T>,
    timing: Partial<ReflectorTiming> = {},
  ) {
    this.#transport = transport;
    this.#handlers = handlers;
    this.#timing = { ...defaultTiming, ...timing };
    this.#known = handlers.store ?? new Map<string, T>();
    this.#handlerKeepsStore = handlers.store !== undefined;
    this.#keep = handlers.keep ? (obj) => handlers.keep?.(obj) ?? obj : (obj) => obj;
  }

  /**
   * Starts the loop; resolves after the first list has been delivered. A failing first list is
   * retried with back-off (each failure reported through onError) for `firstListRetryMs`; then
   * the last error is thrown.
   */
  async start(): Promise<void> {
    let backoff = this.#timing.minBackoffMs;
    let slept = 0;
    for (;;) {
      try {
        await this.#relist();
        break;
      } catch (err) {
        if (this.#stopped || slept >= this.#timing.firstListRetryMs) throw err;
        this.#handlers.onError?.(`first list failed, retrying in ${backoff} ms: ${describeError(err)}`);
        await this.#timing.sleep(backoff);
        slept += Math.max(backoff, 1);
        backoff = Math.min(backoff * 2, this.#timing.maxBackoffMs);
      }
    }
    this.#loop = this.#run();
  }

  /** Stops watching; resolves when the loop has ended. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#current?.abort();
    await this.#loop;
  }

  /** The latest known state of every object, by `namespace/name`. */
  snapshot(): T[] {
    return [...this.#known.values()];
  }

  /** How often the loop had to list again (410) and resume (dropped watch): for tests and metrics. */
  stats(): { relists: number; resumes: number; resourceVersion: string } {
    return { relists: this.#relists, resumes: this.#resumes, resourceVersion: this.#resourceVersion };
  }

  async #relist(): Promise<void> {
    const list = await this.#transport.list(this.#keep);
    for (const ev of relistDiff(this.#known, list.items)) this.#apply(ev);
    this.#resourceVersion = list.resourceVersion;
    this.#handlers.onSynced?.();
  }

  #apply(ev: WatchEvent<T>): void {
    if (!this.#handlerKeepsStore) {
      const key = objectKey(ev.object);
      if (ev.type === 'DELETED') this.#known.delete(key);
      else this.#known.set(key, ev.object);
    }
    this.#handlers.onEvent(ev);
  }

  async #run(): Promise<void> {
    let backoff = this.#timing.minBackoffMs;
    let needRelist = false;
    const pause = async (): Promise<void> => {
      await this.#timing.sleep(backoff);
      backoff = Math.min(backoff * 2, this.#timing.maxBackoffMs);
    };
    while (!this.#stopped) {
      if (needRelist) {
        try {
          await this.#relist();
          needRelist = false;
        } catch (err) {
          // Watching from the old resourceVersion would only fail with 410 again: list until it works.
          this.#handlers.onError?.(describeError(err));
          await pause();
          continue;
        }
      }
      const outcome = await this.#watchOnce();
      if (this.#stopped) return;
      if (outcome.delivered) backoff = this.#timing.minBackoffMs;
      if (outcome.error !== null) this.#handlers.onError?.(describeError(outcome.error));
      if (outcome.gone) {
        this.#relists++;
        needRelist = true;
        continue;
      }
      this.#resumes++;
      // An error backs off exponentially; a clean end with nothing delivered waits the minimum,
      // so a server that keeps closing at once cannot make this a busy loop.
      if (outcome.error !== null) await pause();
      else if (!outcome.delivered) await this.#timing.sleep(this.#timing.minBackoffMs);
    }
  }

  /** One watch stream, from open to end. Never throws. */
  #watchOnce(): Promise<{ gone: boolean; error: unknown; delivered: boolean }> {
    return new Promise((resolve) => {
      let delivered = false;
      let gone = false;
      const onEvent = (raw: RawWatchEvent): void => {
        if (raw.type === 'ERROR') {
          // A Status object inside the stream; 410 means our resourceVersion is too old.
          if (isGone(raw.object)) gone = true;
          return;
        }
        const rv = (raw.object as Watchable | undefined)?.metadata?.resourceVersion;
        if (rv) this.#resourceVersion = rv;
        if (raw.type === 'BOOKMARK') return;
        if (raw.type === 'ADDED' || raw.type === 'MODIFIED' || raw.type === 'DELETED') {
          delivered = true;
          this.#apply({ type: raw.type as WatchEventType, object: this.#keep(raw.object as T) });
        }
      };
      const onDone = (err: unknown): void => {
        this.#current = undefined;
        resolve({ gone: gone || isGone(err), error: err ?? null, delivered });
      };
      this.#transport.watch(this.#resourceVersion, onEvent, onDone).then(
        (handle) => {
          this.#current = handle;
          if (this.#stopped) handle.abort();
        },
        (err: unknown) => resolve({ gone: isGone(err), error: err, delivered }),
      );
    });
  }
}
