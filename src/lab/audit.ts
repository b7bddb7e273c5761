/**
 * Reading the lab API server's audit log (ControlPlane `auditLog`): one JSON object per line, per
 * request stage. Used to count requests per user and verb over a window, which the API server's
 * own metrics cannot do (they carry no user).
 */
import { readFileSync } from 'node:fs';

/** The fields of one audit event that counting needs. */
export interface AuditEvent {
  readonly auditId: string;
  /** `ResponseStarted` (a watch began streaming) or `ResponseComplete`. */
  readonly stage: string;
  readonly user: string;
  /** get, list, watch, create, update, patch, delete, deletecollection. */
  readonly verb: string;
  readonly resource: string;
  readonly subresource: string | undefined;
  readonly code: number | undefined;
  readonly atMs: number;
}

/** Verbs that change the cluster. */
export const WRITE_VERBS: ReadonlySet<string> = new Set([
  'create',
  'update',
  'patch',
  'delete',
  'deletecollection',
]);

/**
 * Parses audit log text. Lines that are not audit events (a torn last line while the server is
 * writing) are skipped.
 */
export function parseAuditLog(text: string): AuditEvent[] {
  const out: AuditEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let e: {
      auditID?: string;
      stage?: string;
      user?: { username?: string };
      verb?: string;
      objectRef?: { resource?: string; subresource?: string };
      responseStatus?: { code?: number };
      stageTimestamp?: string;
    };
    try {
      e = JSON.parse(line);
    } catch {
      continue;
    }
    const atMs = Date.parse(e.stageTimestamp ?? '');
    if (!e.auditID || !e.stage || Number.isNaN(atMs)) continue;
    out.push({
      auditId: e.auditID,
      stage: e.stage,
      user: e.user?.username ?? '',
      verb: e.verb ?? '',
      resource: e.objectRef?.resource ?? '',
      subresource: e.objectRef?.subresource,
      code: e.responseStatus?.code,
      atMs,
    });
  }
  return out;
}

/**
 * Requests in `[fromMs, toMs)`, one per request: watches count when they start streaming
 * (`ResponseStarted`), everything else when it completes.
 */
export function requestsIn(events: readonly AuditEvent[], fromMs: number, toMs: number): AuditEvent[] {
  return events.filter(
    (e) =>
      e.atMs >= fromMs &&
      e.atMs < toMs &&
      (e.verb === 'watch' ? e.stage === 'ResponseStarted' : e.stage === 'ResponseComplete'),
  );
}

/** Counts of requests by `user` then `verb resource[/subresource]`. */
export function countByUser(events: readonly AuditEvent[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const e of events) {
    const what = `${e.verb} ${e.resource}${e.subresource ? `/${e.subresource}` : ''}`;
    const mine = out[e.user] ?? {};
    mine[what] = (mine[what] ?? 0) + 1;
    out[e.user] = mine;
  }
  return out;
}

/** Reads and parses an audit log file (empty when it does not exist yet). */
export function readAuditLog(path: string): AuditEvent[] {
  try {
    return parseAuditLog(readFileSync(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
