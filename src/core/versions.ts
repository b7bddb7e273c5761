/**
 * Versions of the node's networking components as their images, `--version` output and dump headers
 * print them (`v1.19.2-eksbuild.1`, `v1.29.3-minimal-eksbuild.2`, `v3.27.0`, `iptables-save v1.8.7 on …`),
 * made comparable, and version ranges written the way release notes state fixes ("fixed in 1.28.14,
 * 1.29.9, 1.30.5"). Pure: no I/O. An unreadable version is `undefined`, never a guess — callers turn it
 * into "possible", never into "affected".
 */

/** A parsed version. Only major.minor.patch and a pre-release order versions; `build` never does. */
export interface Version {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** `alpha.1`, `rc.0`, `beta`: sorts before the release of the same numbers (semver). */
  readonly prerelease?: string;
  /** Distributor suffixes that do not change the upstream code line: `eksbuild.1`, `minimal-eksbuild.2`, `k3s1`. */
  readonly build?: string;
  /** The text the version was read from. */
  readonly raw: string;
}

// The numbers, then a `-suffix` and/or `+suffix`. The leading `v` is optional; the lookbehind keeps
// `x1.2.3` or `1.2.3` inside a longer number from matching.
const VERSION_RE =
  /(?<![\w.])v?(\d{1,9})\.(\d{1,9})(?:\.(\d{1,9}))?(?:-([0-9A-Za-z][0-9A-Za-z.-]*))?(?:\+([0-9A-Za-z.-]+))?/;
const PRERELEASE_RE = /^(alpha|beta|rc|pre)(?=$|[.\d-])/i;
const MAX_TEXT = 4096;

/**
 * The first version in `text`, or undefined when there is none. Image tags (`v1.30.0-eksbuild.3`),
 * bare versions (`3.27.0`, `1.8`) and versions inside a line (`iptables-save v1.8.7 on …`) are read.
 * Input is cut at 4 KiB: versions are at the start of anything this is given.
 */
export function parseVersion(text: string): Version | undefined {
  const m = VERSION_RE.exec(text.slice(0, MAX_TEXT));
  if (!m) return undefined;
  const suffix = m[4];
  const plus = m[5];
  const isPre = suffix !== undefined && PRERELEASE_RE.test(suffix);
  const build = [isPre ? undefined : suffix, plus].filter((s) => s !== undefined).join('+');
  return {
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3] ?? 0),
    ...(isPre && suffix !== undefined ? { prerelease: suffix } : {}),
    ...(build !== '' ? { build } : {}),
    raw: m[0],
  };
}

/** `major.minor.patch[-prerelease]`: the comparable part, for evidence lines. */
export function formatVersion(v: Version): string {
  return `${v.major}.${v.minor}.${v.patch}${v.prerelease !== undefined ? `-${v.prerelease}` : ''}`;
}

/** Negative, zero or positive as `a` is older than, the same line and number as, or newer than `b`. */
export function compareVersions(a: Version, b: Version): number {
  const d = a.major - b.major || a.minor - b.minor || a.patch - b.patch;
  if (d !== 0) return Math.sign(d);
  if (a.prerelease === b.prerelease) return 0;
  if (a.prerelease === undefined) return 1;
  if (b.prerelease === undefined) return -1;
  return comparePrerelease(a.prerelease, b.prerelease);
}

/** Semver pre-release order: identifiers left to right; fewer identifiers sort first. */
function comparePrerelease(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const c = compareIdentifier(pa[i], pb[i]);
    if (c !== 0) return c;
  }
  return 0;
}

/** One pre-release identifier: numbers numerically and before words, words as text. */
function compareIdentifier(x: string | undefined, y: string | undefined): number {
  if (x === undefined || y === undefined) return x === y ? 0 : x === undefined ? -1 : 1;
  const nx = /^\d+$/.test(x);
  const ny = /^\d+$/.test(y);
  if (nx && ny) return Math.sign(Number(x) - Number(y));
  if (nx !== ny) return nx ? -1 : 1;
  return x === y ? 0 : x < y ? -1 : 1;
}

/** One interval of versions; a missing bound is open. */
export interface VersionInterval {
  readonly min?: { readonly version: Version; readonly inclusive: boolean };
  readonly max?: { readonly version: Version; readonly inclusive: boolean };
}

/** A union of intervals, with the text it was written as (for evidence lines). */
export interface VersionRanges {
  readonly intervals: readonly VersionInterval[];
  readonly text: string;
}

/** True when `v` lies in `interval`. */
function inInterval(v: Version, interval: VersionInterval): boolean {
  const { min, max } = interval;
  if (min) {
    const c = compareVersions(v, min.version);
    if (c < 0 || (c === 0 && !min.inclusive)) return false;
  }
  if (max) {
    const c = compareVersions(v, max.version);
    if (c > 0 || (c === 0 && !max.inclusive)) return false;
  }
  return true;
}

/** True when `v` lies in any interval of `ranges`. */
export function inRange(v: Version, ranges: VersionRanges): boolean {
  return ranges.intervals.some((i) => inInterval(v, i));
}

const BOUND_RE = /^(<=|>=|<|>|=)?\s*(v?\d[0-9A-Za-z.+-]*)$/;

/**
 * Parses a range written as release notes put it: clauses joined by `||` or `or`; a clause is
 * `A - B` or `A–B` (both inclusive), or bounds joined by spaces (`>= 1.30.0 < 1.30.5`, `< 1.28.14`),
 * or one version (exactly that version). Example: `< 1.28.14 || 1.29.0 - 1.29.8 || >=1.30.0 <1.30.5`.
 */
export function parseVersionRanges(text: string): VersionRanges | { error: string } {
  const clauses = text.split(/\s*(?:\|\||\bor\b)\s*/);
  const intervals: VersionInterval[] = [];
  for (const raw of clauses) {
    const clause = raw.trim();
    if (clause === '') return { error: `version range "${text}": empty clause` };
    const interval = parseClause(clause);
    if ('error' in interval) return { error: `version range "${text}": ${interval.error}` };
    intervals.push(interval);
  }
  return { intervals, text };
}

function parseClause(clause: string): VersionInterval | { error: string } {
  const ends = clause.split(/\s+-\s+|\s*\u2013\s*/);
  return ends.length === 2 ? parseSpan(clause, ends[0] ?? '', ends[1] ?? '') : parseBounds(clause);
}

/** `A - B`: both ends inclusive, both plain versions. */
function parseSpan(clause: string, from: string, to: string): VersionInterval | { error: string } {
  const lo = parseVersion(from);
  const hi = parseVersion(to);
  if (!lo || !hi || lo.raw !== from || hi.raw !== to) return { error: `"${clause}" is not "A - B"` };
  return { min: { version: lo, inclusive: true }, max: { version: hi, inclusive: true } };
}

/** `>= A < B`, `< B`, `A`: bounds joined by spaces; a bare version means exactly it. */
function parseBounds(clause: string): VersionInterval | { error: string } {
  const parts = clause.match(/(<=|>=|<|>|=)?\s*[^\s<>=]+/g) ?? [];
  if (parts.length === 0 || parts.join('').replace(/\s+/g, '') !== clause.replace(/\s+/g, '')) {
    return { error: `"${clause}" is not a bound (<, <=, >, >=, =) followed by a version` };
  }
  let min: VersionInterval['min'];
  let max: VersionInterval['max'];
  for (const part of parts) {
    const m = BOUND_RE.exec(part.trim());
    const v = m ? parseVersion(m[2] ?? '') : undefined;
    if (!m || !v || v.raw !== m[2]) return { error: `"${part.trim()}" is not a version bound` };
    const op = m[1] ?? '=';
    if (op !== '>' && op !== '>=') max = { version: v, inclusive: op !== '<' };
    if (op !== '<' && op !== '<=') min = { version: v, inclusive: op !== '>' };
  }
  return { ...(min ? { min } : {}), ...(max ? { max } : {}) };
}

/** {@link parseVersionRanges} for ranges written in code: a bad one is a programming error. */
export function versionRanges(text: string): VersionRanges {
  const r = parseVersionRanges(text);
  if ('error' in r) throw new Error(r.error);
  return r;
}

/**
 * The ranges a fix leaves affected, when it shipped as backports: `fixes` lists the first fixed
 * release of each release line (`['1.28.14', '1.29.9', '1.30.5', '1.31.1']`). A version is
 * affected when it is older than the fix of its own line, on a line older than every listed line,
 * or on a line between listed ones that got no backport. Lines newer than the newest listed fix
 * are fixed (they branched after it). The result's text reads like release notes, for evidence.
 */
export function affectedBeforeFixes(fixes: readonly string[]): VersionRanges {
  const parsed = fixes.map((f) => {
    const v = parseVersion(f);
    if (!v) throw new Error(`affectedBeforeFixes: "${f}" is not a version`);
    return v;
  });
  parsed.sort(compareVersions);
  const intervals: VersionInterval[] = [];
  const clauses: string[] = [];
  const line = (major: number, minor: number): Version => ({
    major,
    minor,
    patch: 0,
    raw: `${major}.${minor}.0`,
  });
  let previous: Version | undefined;
  for (const fix of parsed) {
    const start = line(fix.major, fix.minor);
    if (previous === undefined) {
      intervals.push({ max: { version: fix, inclusive: false } });
      clauses.push(`< ${formatVersion(fix)}`);
    } else {
      // Lines after the previous fix's line and before this one got no backport: all affected.
      const next = line(previous.major, previous.minor + 1);
      if (compareVersions(next, start) < 0) {
        intervals.push({
          min: { version: next, inclusive: true },
          max: { version: start, inclusive: false },
        });
        clauses.push(`>= ${formatVersion(next)} < ${formatVersion(start)}`);
      }
      intervals.push({ min: { version: start, inclusive: true }, max: { version: fix, inclusive: false } });
      clauses.push(`>= ${formatVersion(start)} < ${formatVersion(fix)}`);
    }
    previous = fix;
  }
  return { intervals, text: clauses.join(' || ') };
}

/** The iptables build a dump or `iptables --version` names: version and backend when printed. */
export interface IptablesVersion {
  readonly version: Version;
  /** From `(nf_tables)`/`(legacy)` or the binary name (`iptables-nft-save`, `iptables-legacy-save`). */
  readonly backend?: 'nft' | 'legacy';
  /** The binary that printed it (`iptables-save`, `iptables-nft-save`, `iptables`, `xtables-nft-multi`). */
  readonly binary: string;
}

/**
 * Reads `# Generated by iptables-nft-save v1.8.9 (nf_tables) on …`, `iptables-save v1.8.7 on …`,
 * `iptables v1.8.10 (nf_tables)` or `iptables v1.8.4 (legacy)`. A plain `iptables-save v1.8.7`
 * header does not say its backend (iptables-nft before about 1.8.8 printed none), so backend is
 * then left out rather than guessed.
 */
export function parseIptablesVersion(text: string): IptablesVersion | undefined {
  const line = text.slice(0, MAX_TEXT);
  const m =
    /\b((?:ip6?tables|xtables)(?:-(?:nft|legacy))?(?:-(?:save|restore|multi))?)\s+(v\d[^\s]*)(?:\s+\((nf_tables|legacy)\))?/.exec(
      line,
    );
  if (!m) return undefined;
  const version = parseVersion(m[2] ?? '');
  if (!version) return undefined;
  const binary = m[1] ?? '';
  const backend =
    m[3] === 'nf_tables' || /-nft\b/.test(binary)
      ? 'nft'
      : m[3] === 'legacy' || /-legacy\b/.test(binary)
        ? 'legacy'
        : undefined;
  return { version, binary, ...(backend ? { backend } : {}) };
}

/** The kernel release of `uname -r` or `uname -a` (`6.1.115-126.197.amzn2023.x86_64`), as a Version. */
export function parseKernelVersion(text: string): Version | undefined {
  const t = text.trim();
  // `uname -a` starts with "Linux <host> <release>"; `uname -r` is the release alone.
  const release = /^Linux\s+\S+\s+(\S+)/.exec(t)?.[1] ?? t.split(/\s+/)[0] ?? '';
  const m = /^(\d{1,4})\.(\d{1,4})(?:\.(\d{1,6}))?/.exec(release);
  if (!m) return undefined;
  const rest = release.slice(m[0].length).replace(/^[-+.]/, '');
  return {
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3] ?? 0),
    ...(rest !== '' ? { build: rest } : {}),
    raw: release,
  };
}
