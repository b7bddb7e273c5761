import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleForTest, runBundle } from './bundle-testing.ts';
import { lazyUndici } from './lazy-undici.ts';

// A stand-in "undici" package that counts its evaluations, so the test sees when it runs. The
// bundle is written elsewhere (no node_modules beside it): it works only if undici is inside it.
const dir = mkdtempSync(join(tmpdir(), 'nw-lazy-undici-'));
const pkg = join(dir, 'src', 'node_modules', 'undici');
mkdirSync(pkg, { recursive: true });
writeFileSync(join(pkg, 'package.json'), '{"name":"undici","main":"index.js"}');
writeFileSync(
  join(pkg, 'index.js'),
  `globalThis.undiciEvaluated = (globalThis.undiciEvaluated ?? 0) + 1;
exports.fetch = (url) => 'fetched ' + url;
exports.Agent = class Agent { constructor(o) { this.o = o; } };
exports.ProxyAgent = class ProxyAgent { constructor(o) { this.o = o; } };
exports.request = () => 'request';`,
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bundle(source: string): Promise<string> {
  return bundleForTest(source, {
    entryDir: join(dir, 'src'),
    outDir: dir,
    plugins: [lazyUndici(join(dir, 'src'))],
    banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  });
}

describe('lazyUndici (bundled, run in a fresh node)', () => {
  it('bundles undici but evaluates it only when first called; the calls reach it', async () => {
    const out = await bundle(
      `import { fetch, Agent, ProxyAgent } from 'undici';
const before = globalThis.undiciEvaluated ?? 0;
const fetched = fetch('u');
const agent = new Agent({ a: 1 });
const proxy = new ProxyAgent({ p: 2 });
console.log(JSON.stringify({ before, after: globalThis.undiciEvaluated, fetched,
  agent: [agent.constructor.name, agent.o], proxy: [proxy.constructor.name, proxy.o] }));`,
    );
    expect(runBundle(out, tmpdir())).toEqual({
      before: 0,
      after: 1,
      fetched: 'fetched u',
      agent: ['Agent', { a: 1 }],
      proxy: ['ProxyAgent', { p: 2 }],
    });
  });

  it('fails the build when a module imports a name it has no stand-in for', async () => {
    await expect(bundle(`import { request } from 'undici'; console.log(request());`)).rejects.toThrow(
      /No matching export.*request/s,
    );
  });
});
