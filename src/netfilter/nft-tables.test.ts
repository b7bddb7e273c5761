import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nftTableNames, parseNftJson } from './nft.ts';

describe('nftTableNames', () => {
  it('lists the tables of a recorded `nft -j list tables`', () => {
    const text = readFileSync(new URL('./fixtures/field/nft-list-tables.json', import.meta.url), 'utf8');
    expect([...nftTableNames(parseNftJson(text))]).toEqual([
      'ip filter',
      'ip nat',
      'ip kube-proxy',
      'ip aws-cni',
      'ip6 kube-proxy',
    ]);
  });

  it('lists the same tables from a recorded `nft -j list chains` of that set-up (what the agent reads)', () => {
    const text = readFileSync(new URL('./fixtures/field/nft-list-chains.json', import.meta.url), 'utf8');
    expect([...nftTableNames(parseNftJson(text))].sort()).toEqual(
      ['ip filter', 'ip nat', 'ip kube-proxy', 'ip aws-cni', 'ip6 kube-proxy'].sort(),
    );
  });
});
