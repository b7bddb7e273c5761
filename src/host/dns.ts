/** DNS queries to a chosen server (c-ares through node:dns), with a deadline. */
import { Resolver } from 'node:dns/promises';

/** Sends an A query for `name` to `server` (resent once); resolves with the first address. */
export async function queryA(server: string, name: string, timeoutMs: number): Promise<string> {
  const resolver = new Resolver({ timeout: Math.max(100, Math.floor(timeoutMs / 2)), tries: 2 });
  resolver.setServers([server]);
  const addrs = await resolver.resolve4(name);
  const first = addrs[0];
  if (!first) throw new Error('empty answer');
  return first;
}
