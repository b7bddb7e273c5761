/**
 * Reading what the field cases need off a live node (assess/field-cases.ts), cheaply enough for
 * every round of the agent's `cni` check: the nft tables that exist, the legacy tables that exist,
 * and per iptables backend the FORWARD chain and the VPC CNI's connmark chains — the whole filter
 * table only when FORWARD's policy is DROP (the reachability of an ACCEPT needs it).
 *
 * Reads never change the node. iptables-legacy creates a table when asked to list one that does not
 * exist (measured: `iptables-legacy -S FORWARD` in an empty namespace made a legacy filter table), so
 * legacy is only listed for the tables /proc/net/ip_tables_names already names; iptables-nft and
 * nft list without creating anything.
 */

import { type Read, readAbsent, readOk, readUnknown, readValue } from '../core/read.ts';
import { describeError } from '../errors.ts';
import { type IptablesNodeState, readIptablesState } from '../netfilter/iptables-state.ts';
import { nftTablesFromFlowtableListing } from '../netfilter/nft.ts';
import { execRead, MAX_RULES_OUTPUT, type NodeIo } from './io.ts';
import { listChainsAsSave } from './kube-proxy.ts';
import { type NftReads, reuseNftRead } from './nft-reads.ts';

/**
 * The nft tables as `family name` (`ip kube-proxy`, `ip aws-cni`, iptables-nft's `ip nat`), from
 * `nft list flowtables`, which prints every table and fetches no rule. Not `nft list tables` (nor
 * `list chains`): nftables 1.0.6 fetches every rule (every chain) for those — measured beside
 * kube-proxy's rules, `list tables` cost 0.28 s of CPU per call at 1,000 Services and `list
 * chains` 0.32 s at 10,000, once a round, most of a steady agent's CPU; `list flowtables` took no
 * measurable time at 10,000. The doctor reads `nft -j list tables` (once, into its bundle): the same
 * set of tables.
 */
export function readNftTables(io: NodeIo, timeoutMs: number): Promise<Read<ReadonlySet<string>>> {
  return execRead(
    io,
    'nft',
    ['list', 'flowtables'],
    { timeoutMs, maxOutputBytes: 1024 * 1024, failReason: 'NftUnavailable' },
    (stdout) => nftTablesFromFlowtableListing(stdout),
  );
}

const LEGACY_TABLES = '/proc/net/ip_tables_names';
const legacyTableNames = (text: string): string[] => text.split('\n').filter((t) => /^[a-z_]{1,32}$/.test(t));

/**
 * The iptables-legacy tables that exist; `absent` when the legacy modules are not loaded. Read in
 * this process when `io.readFile` is there (every agent round: one fork fewer), else with `cat`.
 */
export async function readLegacyTables(io: NodeIo, timeoutMs: number): Promise<Read<readonly string[]>> {
  if (!io.readFile)
    return execRead(
      io,
      'cat',
      [LEGACY_TABLES],
      { timeoutMs, maxOutputBytes: 4096, absentWhen: /No such file/ },
      legacyTableNames,
    );
  try {
    return readOk(legacyTableNames(await io.readFile(LEGACY_TABLES, { maxBytes: 4096 })), LEGACY_TABLES);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      return readAbsent(LEGACY_TABLES, 'no legacy iptables tables (ip_tables not loaded)');
    return readUnknown(LEGACY_TABLES, 'ReadFailed', describeError(err));
  }
}

/** The chains listed for the field cases: FORWARD (policy, rules) and the VPC CNI's connmark rules. */
const FIELD_CHAINS: readonly (readonly [string, string])[] = [
  ['filter', 'FORWARD'],
  ['nat', 'PREROUTING'],
  ['nat', 'AWS-CONNMARK-CHAIN-0'],
];

/**
 * One backend's FORWARD and connmark chains, and its whole filter table when FORWARD's policy is
 * DROP. `saveBin` is `iptables-nft-save`, `iptables-legacy-save` or the host's `iptables-save`;
 * `tables` limits the listing to tables known to exist (legacy). `absent` when none is to be read.
 */
export async function readFieldChains(
  io: NodeIo,
  saveBin: string,
  tables: readonly string[] | undefined,
  timeoutMs: number,
): Promise<Read<IptablesNodeState>> {
  const chains = FIELD_CHAINS.filter(([t]) => tables === undefined || tables.includes(t));
  if (chains.length === 0) return readAbsent(saveBin, 'no filter or nat table in this backend');
  const listed = await listChainsAsSave(io, saveBin, chains, timeoutMs, new Set(['filter', 'nat']));
  if (listed.status !== 'ok') return listed;
  if (!/^:FORWARD DROP /m.test(listed.value)) return readOk(readIptablesState(listed.value), listed.source);
  const filter = await execRead(
    io,
    saveBin,
    ['-t', 'filter'],
    { timeoutMs, maxOutputBytes: MAX_RULES_OUTPUT, failReason: 'IptablesSaveUnavailable' },
    (stdout) => stdout,
  );
  if (filter.status === 'unknown') return readUnknown(filter.source, filter.reason, filter.detail);
  if (filter.status === 'absent') return readAbsent(filter.source, filter.detail);
  // The whole filter table replaces the FORWARD listing; the nat listing stays.
  const at = listed.value.indexOf('*nat');
  const nat = at >= 0 ? listed.value.slice(at) : '';
  return readOk(readIptablesState(`${filter.value}\n${nat}`), `${saveBin} -t filter; ${listed.source}`);
}

/** What the `cni` check reads for the field cases: the tables that exist and each backend's chains. */
export interface FieldChainsRead {
  readonly nftTables?: ReadonlySet<string>;
  readonly legacyTables?: readonly string[];
  readonly nft?: IptablesNodeState;
  readonly legacy?: IptablesNodeState;
  readonly dflt?: IptablesNodeState;
}

/**
 * Reads both backends when `saveBin` is `auto` (legacy only for its existing tables), else the one
 * binary. A read that fails leaves its part out: the cases it feeds are then not judged. With
 * `reads`, listings of nftables state are reused while the ruleset generation stands.
 */
export async function readFieldState(
  io: NodeIo,
  saveBin: string,
  timeoutMs: number,
  reads?: NftReads,
): Promise<FieldChainsRead> {
  const chainsOf = (bin: string, tables: readonly string[] | undefined) =>
    reuseNftRead(reads, bin, `field ${tables?.join(',') ?? '*'}`, () =>
      readFieldChains(io, bin, tables, timeoutMs),
    );
  const nftTables = readValue(await reuseNftRead(reads, 'nft', 'tables', () => readNftTables(io, timeoutMs)));
  const legacyTables = readValue(await readLegacyTables(io, timeoutMs));
  const common = {
    ...(nftTables ? { nftTables } : {}),
    ...(legacyTables ? { legacyTables } : {}),
  };
  if (saveBin !== 'auto') {
    const tables = saveBin.includes('legacy') ? (legacyTables ?? []) : undefined;
    const one = readValue(await chainsOf(saveBin, tables));
    const slot = saveBin.includes('legacy') ? 'legacy' : saveBin.includes('nft') ? 'nft' : 'dflt';
    return { ...common, ...(one ? { [slot]: one } : {}) };
  }
  const nft = readValue(await chainsOf('iptables-nft-save', undefined));
  const legacy = legacyTables?.length
    ? readValue(await chainsOf('iptables-legacy-save', legacyTables))
    : undefined;
  return { ...common, ...(nft ? { nft } : {}), ...(legacy ? { legacy } : {}) };
}
