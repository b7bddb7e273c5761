import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readFelixIptablesLog } from './felix-log.ts';

const verbatim = (code: string, n: string): string =>
  readFileSync(new URL(`./fixtures/field-cases/${code}/${n}`, import.meta.url), 'utf8');

describe('readFelixIptablesLog', () => {
  it.each([
    ['felix-log-backend-legacy-4958.txt', ['legacy', 'legacy']],
    ['felix-log-backend-nft-9193.txt', ['nft', 'nft']],
  ])('%s: the backend Felix chose', (file, modes) => {
    const log = readFelixIptablesLog(verbatim('calico-iptables-backend-autodetect', file));
    expect(log.backendChoices.map((c) => c.backendMode)).toEqual(modes);
    expect(log.incompatible).toEqual([]);
  });

  it.each([
    ['felix-log-incompatible-raw-8403.txt', ['raw']],
    ['felix-log-kube-proxy-nftables-8025.txt', ['filter']],
  ])('%s: the table Felix could not read', (file, tables) => {
    const log = readFelixIptablesLog(verbatim('iptables-table-incompatible', file));
    expect(log.incompatible.map((l) => l.table)).toEqual(tables);
    expect(log.backendChoices).toEqual([]);
  });
});
