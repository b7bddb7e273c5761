/**
 * `conntrack -L` output (conntrack-tools), the lines of UDP and TCP flows: the original and the
 * reply tuple and whether a reply was seen. A flow whose reply comes from the address the client
 * dialled was never NATed: for a ClusterIP that means no kube-proxy rule caught it when it began
 * (kubernetes#126468). Input is untrusted: unreadable lines are counted, never thrown; at most
 * `maxEntries` flows are kept.
 */

/** One flow. Ports are absent for protocols without them. */
export interface ConntrackEntry {
  readonly protocol: string;
  readonly orig: {
    readonly src: string;
    readonly dst: string;
    readonly sport?: number;
    readonly dport?: number;
  };
  readonly reply: {
    readonly src: string;
    readonly dst: string;
    readonly sport?: number;
    readonly dport?: number;
  };
  /** `[UNREPLIED]`: no packet came back. */
  readonly unreplied: boolean;
  /** The line as printed, for evidence. */
  readonly text: string;
}

/** The flows read, and how many lines were not flows (headers and the summary are not counted). */
export interface ConntrackList {
  readonly entries: readonly ConntrackEntry[];
  readonly skipped: number;
  /** More flows than `maxEntries`: the rest were not read. */
  readonly truncated: boolean;
}

const TUPLE = /src=(\S+) dst=(\S+)(?: sport=(\d+) dport=(\d+))?/g;

/** Parses `conntrack -L [-p udp]` output (also `grep`ped excerpts of it). */
export function parseConntrack(text: string, maxEntries = 100_000): ConntrackList {
  const entries: ConntrackEntry[] = [];
  let skipped = 0;
  let truncated = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('conntrack v')) continue;
    const m = /^([a-z0-9]+)\s+\d+\s/.exec(line);
    const tuples = m ? [...line.slice(0, 2048).matchAll(TUPLE)] : [];
    const [o, r] = tuples;
    if (!m?.[1] || !o?.[1] || !o[2] || !r?.[1] || !r[2]) {
      skipped++;
      continue;
    }
    if (entries.length >= maxEntries) {
      truncated = true;
      break;
    }
    entries.push({
      protocol: m[1],
      orig: tuple(o),
      reply: tuple(r),
      unreplied: line.includes('[UNREPLIED]'),
      text: line.slice(0, 400),
    });
  }
  return { entries, skipped, truncated };
}

function tuple(m: RegExpMatchArray): ConntrackEntry['orig'] {
  return {
    src: m[1] ?? '',
    dst: m[2] ?? '',
    ...(m[3] !== undefined ? { sport: Number(m[3]) } : {}),
    ...(m[4] !== undefined ? { dport: Number(m[4]) } : {}),
  };
}
