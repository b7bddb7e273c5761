/**
 * Reuse of listings of nftables state between steady rounds, vouched for by the ruleset
 * generation: the kernel bumps it on every committed change of the namespace's nftables ruleset,
 * by any program (kube-proxy's iptables-nft-restore, the VPC CNI, Calico, nft), so a listing made
 * after the generation was read shows the same rules for as long as the generation stands.
 *
 * Contract: the round reads the generation before any listing ({@link NftReads.startRound}); a
 * listing is kept only when its round's generation is still current when it finishes, and is
 * reused only within that generation. So a change between the generation read and a listing at
 * worst costs one listing more next round, never a stale one. Only `iptables-nft`, `iptables-nft-save`
 * and `nft` listings qualify: legacy iptables (x_tables) has no generation and is always listed.
 * An unknown generation (the reader missing or failing) reuses nothing.
 */
import type { Read } from '../core/read.ts';
import { execRead, type NodeIo, programName } from './io.ts';

/** The generation reader's output: `generation <n>`. */
const GENERATION_LINE = /^generation (\d{1,10})\n?$/;

/** This namespace's nftables generation, from the netwarden-nft-generation program at `bin`. */
export function readNftGeneration(io: NodeIo, bin: string, timeoutMs: number): Promise<Read<number>> {
  return execRead(io, bin, [], { timeoutMs, maxOutputBytes: 256 }, (stdout) => {
    const m = GENERATION_LINE.exec(stdout);
    if (!m) throw new Error(`unexpected output ${JSON.stringify(stdout.slice(0, 80))}`);
    return Number(m[1]);
  });
}

/** Whether what `bin` lists is nftables state alone (so the generation vouches for it). */
export function listsNftablesOnly(bin: string): boolean {
  const base = programName(bin);
  return base === 'nft' || base === 'iptables-nft' || base === 'iptables-nft-save';
}

/** The listings of the current generation, by key. */
export class NftReads {
  #generation: number | undefined;
  readonly #reads = new Map<string, Read<unknown>>();
  #reused = 0;
  #listed = 0;

  /** This round's generation; undefined: unknown, nothing is reused. */
  get generation(): number | undefined {
    return this.#generation;
  }

  /** Starts a round at `generation` (read before this round's listings); undefined: reuse nothing. */
  startRound(generation: number | undefined): void {
    if (generation === undefined || generation !== this.#generation) this.#reads.clear();
    this.#generation = generation;
  }

  /**
   * The listing `key` of `bin` (e.g. `iptables-nft-save capture`): the one already made in this
   * generation, else `read()`, kept when ok. `bin` not nftables-only: always `read()`.
   */
  async reuse<T>(bin: string, key: string, read: () => Promise<Read<T>>): Promise<Read<T>> {
    const generation = this.#generation;
    if (generation === undefined || !listsNftablesOnly(bin)) return read();
    const k = `${bin} ${key}`;
    const kept = this.#reads.get(k);
    if (kept) {
      this.#reused++;
      return kept as Read<T>;
    }
    this.#listed++;
    const r = await read();
    if (r.status === 'ok' && this.#generation === generation) this.#reads.set(k, r);
    return r;
  }

  /** Listings reused and made through {@link reuse} since the last call (for the agent's metrics). */
  takeCounts(): { reused: number; listed: number } {
    const c = { reused: this.#reused, listed: this.#listed };
    this.#reused = 0;
    this.#listed = 0;
    return c;
  }
}

/** {@link NftReads.reuse} when the round has reuse, else the read itself (the doctor, a gated round). */
export function reuseNftRead<T>(
  reads: NftReads | undefined,
  bin: string,
  key: string,
  read: () => Promise<Read<T>>,
): Promise<Read<T>> {
  return reads ? reads.reuse(bin, key, read) : read();
}
