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
});
