/** Emitting events.k8s.io/v1 Events about a Node or a Pod. */
import { randomBytes } from 'node:crypto';
import { type Clock, systemClock } from '../core/clock.ts';
import type { NodeEvent } from '../core/status.ts';
import { apiError, type KubeClient } from './client.ts';
import { timeMs } from './types.ts';

/** The object an Event is about. Node events go to the `default` namespace, as the kubelet's do. */
export type EventSubject =
  | { readonly kind: 'Node'; readonly name: string; readonly uid?: string }
  | { readonly kind: 'Pod'; readonly namespace: string; readonly name: string; readonly uid?: string };

/** One Event to record. `reason` is CamelCase; `note` is a human sentence with the evidence. */
export interface EventSpec {
  readonly subject: EventSubject;
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly action: string;
  readonly note: string;
}

/** Records Events. A fake lives in fake.ts. */
export interface EventApi {
  emit(event: EventSpec): Promise<void>;
}

/** The API server limits an Event's note to 1024 bytes (Go's len(), so UTF-8 bytes). */
const MAX_NOTE_BYTES = 1024;

/** Cuts `text` to at most `maxBytes` UTF-8 bytes, marking the cut with "...", never splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  let out = '';
  let bytes = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > maxBytes - 3) break;
    out += ch;
    bytes += n;
  }
  return `${out}...`;
}

/** Formats a time as metav1.MicroTime wants it: RFC 3339 with exactly six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** EventApi over a real API server. */
export class KubeEventApi implements EventApi {
  readonly #client: KubeClient;
  readonly #controller: string;
  readonly #instance: string;
  readonly #clock: Clock;

  /** `controller` is the reporting controller (e.g. `netwarden.dev/agent`), `instance` its node or pod. */
  constructor(client: KubeClient, controller: string, instance: string, clock: Clock = systemClock) {
    this.#client = client;
    this.#controller = controller;
    this.#instance = instance;
    this.#clock = clock;
  }

  async emit(event: EventSpec): Promise<void> {
    const subject = event.subject;
    const namespace = subject.kind === 'Node' ? 'default' : subject.namespace;
    const regarding = {
      apiVersion: 'v1',
      kind: subject.kind,
      name: subject.name,
      ...(subject.kind === 'Pod' ? { namespace: subject.namespace } : {}),
      ...(subject.uid ? { uid: subject.uid } : {}),
    };
    const body = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: `${subject.name}.${randomBytes(8).toString('hex')}`, namespace },
      // client-node passes MicroTime values through untouched; a Date would be sent with
      // millisecond precision, which the API server rejects.
      eventTime: microTime(this.#clock.now()) as unknown as Date,
      reportingController: this.#controller,
      reportingInstance: this.#instance,
      action: event.action,
      reason: event.reason,
      note: truncateUtf8(event.note, MAX_NOTE_BYTES),
      type: event.type,
      regarding,
    };
    try {
      await this.#client.events.createNamespacedEvent({ namespace, body });
    } catch (err) {
      throw apiError(`record event ${event.reason} on ${subject.kind} ${subject.name}`, err);
    }
  }

  /**
   * The Events `controller` (default: this API's own) recorded about Nodes. They live in
   * `default`, as the kubelet's do, and are read through the core/v1 view so that the API server
   * filters them by reporting controller. At most `limit` are read.
   */
  async listAboutNodes(controller = this.#controller, limit = 5_000): Promise<NodeEvent[]> {
    try {
      const list = await this.#client.core.listNamespacedEvent({
        namespace: 'default',
        fieldSelector: `involvedObject.kind=Node,reportingComponent=${controller}`,
        limit,
      });
      return list.items.map((e) => ({
        node: e.involvedObject?.name ?? '',
        reason: e.reason ?? '',
        action: e.action ?? '',
        note: e.message ?? '',
        atMs:
          timeMs(e.eventTime ?? e.lastTimestamp ?? e.firstTimestamp ?? e.metadata?.creationTimestamp) ?? 0,
      }));
    } catch (err) {
      throw apiError(`list events of ${controller} about nodes`, err);
    }
  }
}
