/**
 * calico-node's (Felix's) log, the two lines the field cases read: which iptables binaries Felix
 * chose (`Looked up iptables command backendMode="legacy" …`, calico#4958/#10538) and that it could
 * not read a table holding nft rules (`iptables-save failed because there are incompatible nft rules
 * in the table`, calico#8403/#8025). Container-runtime prefixes (`2024-01-11T12:49:55.774618460Z `)
 * are kept in the line. At most `max` lines of each are kept; the scan is linear.
 */

/** One matching line, with its 1-based number. */
export interface FelixLogLine {
  readonly line: number;
  readonly text: string;
}

/** What Felix's log says about its iptables. */
export interface FelixIptablesLog {
  /** `backendMode` of each "Looked up iptables command" line. */
  readonly backendChoices: readonly (FelixLogLine & { readonly backendMode: string })[];
  /** "incompatible nft rules" errors, with the table when named. */
  readonly incompatible: readonly (FelixLogLine & { readonly table?: string })[];
}

const BACKEND = /Looked up iptables command backendMode="([a-z]+)"/;
const INCOMPATIBLE = /iptables-save failed because there are incompatible nft rules/;

/** Scans a Felix log. */
export function readFelixIptablesLog(text: string, max = 20): FelixIptablesLog {
  const backendChoices: (FelixLogLine & { backendMode: string })[] = [];
  const incompatible: (FelixLogLine & { table?: string })[] = [];
  let lineNo = 0;
  for (const raw of text.split('\n')) {
    lineNo++;
    const line = raw.slice(0, 8192);
    const mode = BACKEND.exec(line)?.[1];
    if (mode !== undefined && backendChoices.length < max)
      backendChoices.push({ line: lineNo, text: line.trim(), backendMode: mode });
    // Only Felix's own error line: its follow-up warnings repeat the text without naming a table first.
    if (INCOMPATIBLE.test(line) && /\[ERROR\]/.test(line) && incompatible.length < max) {
      const table = /\btable="([a-z_]+)"/.exec(line)?.[1];
      incompatible.push({ line: lineNo, text: line.trim(), ...(table !== undefined ? { table } : {}) });
    }
  }
  return { backendChoices, incompatible };
}
