import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nftTableNames, nftTablesFromFlowtableListing, parseNftJson } from './nft.ts';

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

  it('lists the same tables from a recorded `nft list flowtables` of that set-up (what the agent reads)', () => {
    const text = readFileSync(new URL('./fixtures/field/nft-list-flowtables.txt', import.meta.url), 'utf8');
    expect([...nftTablesFromFlowtableListing(text)]).toEqual([
      'ip filter',
      'ip nat',
      'ip kube-proxy',
      'ip aws-cni',
      'ip6 kube-proxy',
    ]);
    expect(nftTablesFromFlowtableListing('').size).toBe(0);
    // flowtables inside a table are skipped; a line of another shape makes the listing unreadable
    expect([...nftTablesFromFlowtableListing('table inet f {\n\tflowtable ft {\n\t}\n}\n')]).toEqual([
      'inet f',
    ]);
    expect(() => nftTablesFromFlowtableListing('flowtable ft {\n}\n')).toThrow(/line 1/);
  });
});
