/**
 * kube-proxy `/healthz` (and `/livez`) body parser for the three formats in the wild:
 * pre-1.28 `{"lastUpdated": "<Go time>","currentTime": "<Go time>"}`, 1.28–1.30 adding
 * `"nodeEligible"`, and 1.31+ `json.Marshal(ProxyHealth)` with RFC 3339 times and per-family status.
 * A 200 does not prove rules were ever programmed (kube-proxy is "healthy while starting up").
 */

import { isObj } from '../core/json.ts';
import { NetwardenError } from '../errors.ts';

/** Which body format was seen. */
export type HealthzFormat = 'pre-1.28' | '1.28-1.30' | '1.31+';

/** A parsed healthz body. Times are epoch milliseconds. */
export interface KubeProxyHealthz {
  readonly format: HealthzFormat;
  readonly lastUpdatedMs?: number;
  readonly currentTimeMs?: number;
  readonly nodeEligible?: boolean;
  readonly healthy?: boolean;
  readonly families: Readonly<
    Record<string, { readonly lastUpdatedMs?: number; readonly healthy?: boolean }>
  >;
  readonly warnings: readonly string[];
}

const GO_TIME =
  /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d+)? ([+-]\d{4})(?: [A-Z]{2,5})?(?: m=[+-][\d.]+)?$/;

/**
 * Parses Go's `time.Time.String()` (`2020-06-03 23:59:53.688063083 +0000 UTC m=+202.63`) or RFC 3339.
 * The monotonic `m=±…` suffix is dropped; sub-millisecond digits are truncated.
 */
export function parseGoTime(text: string): number | undefined {
  const s = text.trim();
  const m = GO_TIME.exec(s);
  if (m) {
    const frac = (m[3] ?? '').slice(0, 4); // ".123"
    const off = m[4] as string;
    const iso = `${m[1]}T${m[2]}${frac}${off.slice(0, 3)}:${off.slice(3)}`;
    const ms = Date.parse(iso);
    return Number.isNaN(ms) ? undefined : ms;
  }
  if (/^\d{4}-\d{2}-\d{2}T/.test(s)) {
    // RFC 3339 with nanoseconds: JS Date takes at most milliseconds.
    const ms = Date.parse(s.replace(/(\.\d{3})\d+/, '$1'));
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

/** Parses a healthz/livez body. Throws `input-unreadable` when it is not a JSON object. */
export function parseKubeProxyHealthz(body: string): KubeProxyHealthz {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    throw new NetwardenError('input-unreadable', 'kube-proxy healthz: body is not JSON');
  }
  if (!isObj(doc))
    throw new NetwardenError('input-unreadable', 'kube-proxy healthz: body is not a JSON object');
  const warnings: string[] = [];
  const time = (key: string, v: unknown): number | undefined => {
    if (v === undefined) return undefined;
    const ms = typeof v === 'string' ? parseGoTime(v) : undefined;
    if (ms === undefined) warnings.push(`${key}: unreadable time ${JSON.stringify(v).slice(0, 60)}`);
    return ms;
  };
  const lastUpdatedMs = time('lastUpdated', doc.lastUpdated);
  const currentTimeMs = time('currentTime', doc.currentTime);
  const families: Record<string, { lastUpdatedMs?: number; healthy?: boolean }> = {};
  if (isObj(doc.status)) {
    for (const [fam, v] of Object.entries(doc.status)) {
      if (!isObj(v)) continue;
      const lu = time(`status.${fam}.lastUpdated`, v.lastUpdated);
      families[fam] = {
        ...(lu !== undefined ? { lastUpdatedMs: lu } : {}),
        ...(typeof v.healthy === 'boolean' ? { healthy: v.healthy } : {}),
      };
    }
  }
  const format: HealthzFormat =
    'healthy' in doc || 'status' in doc ? '1.31+' : 'nodeEligible' in doc ? '1.28-1.30' : 'pre-1.28';
  if (lastUpdatedMs === undefined && currentTimeMs === undefined && format === 'pre-1.28') {
    throw new NetwardenError('input-unreadable', 'kube-proxy healthz: no lastUpdated/currentTime fields');
  }
  return {
    format,
    ...(lastUpdatedMs !== undefined ? { lastUpdatedMs } : {}),
    ...(currentTimeMs !== undefined ? { currentTimeMs } : {}),
    ...(typeof doc.nodeEligible === 'boolean' ? { nodeEligible: doc.nodeEligible } : {}),
    ...(typeof doc.healthy === 'boolean' ? { healthy: doc.healthy } : {}),
    families,
    warnings,
  };
}
