import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { builtinImportsViaRequire, facadeSource, servedExportNames } from './builtin-imports.ts';
import { bundleForTest, runBundle } from './bundle-testing.ts';

const dir = mkdtempSync(join(tmpdir(), 'nw-builtin-imports-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bundleOf(source: string): Promise<string> {
  return bundleForTest(source, { entryDir: dir, plugins: [builtinImportsViaRequire()] });
}

const UNDICI = 'NativeModule internal/deps/undici/undici';

describe('servedExportNames', () => {
  it('serves data properties and the lazy exports asked for, never other getters or default', () => {
    const m = Object.defineProperties(
      {},
      {
        plain: { value: 1, enumerable: true },
        default: { value: 2, enumerable: true },
        cheap: { get: () => 3, enumerable: true },
        costly: { get: () => 4, enumerable: true },
      },
    );
    expect(servedExportNames(m, ['cheap'])).toEqual(['plain', 'cheap']);
    expect(servedExportNames(m)).toEqual(['plain']);
  });

  it("leaves node:http's WebSocket, CloseEvent and MessageEvent out of the named exports", () => {
    const src = facadeSource('http');
    expect(src).toContain('"createServer"');
    expect(src).not.toMatch(/"(WebSocket|CloseEvent|MessageEvent)"/);
  });
});

describe('builtinImportsViaRequire (bundled, run in a fresh node)', () => {
  it("an ES import of node:http no longer loads Node.js's own undici; every export still works", async () => {
    const out = await bundleOf(
      [
        "import http from 'node:http';",
        "import * as ns from 'http';",
        "import { createServer, STATUS_CODES } from 'node:http';",
        `const before = process.moduleLoadList.includes(${JSON.stringify(UNDICI)});`,
        // The default export is the module itself: its lazy exports are still there when read.
        'const ws = typeof http.WebSocket;',
        'console.log(JSON.stringify({ before, server: typeof createServer, ok: STATUS_CODES[200],',
        '  nsRequest: typeof ns.request, same: http.request === ns.request, ws }));',
      ].join('\n'),
    );
    expect(runBundle(out)).toEqual({
      before: false,
      server: 'function',
      ok: 'OK',
      nsRequest: 'function',
      same: true,
      ws: 'function',
    });
  });

  it('without the plugin the same import does load it (what this plugin is for)', () => {
    const file = join(dir, 'plain.mjs');
    writeFileSync(
      file,
      `import http from 'node:http';\nconsole.log(JSON.stringify(process.moduleLoadList.includes(${JSON.stringify(UNDICI)}) && typeof http.get));`,
    );
    expect(runBundle(file)).toBe('function');
  });

  it('a named import of a lazy export not asked for fails the build, naming it', async () => {
    await expect(
      bundleOf("import { rootCertificates } from 'node:tls';\nconsole.log(rootCertificates);"),
    ).rejects.toThrow(/No matching export in "netwarden-builtin:tls" for import "rootCertificates"/);
  });

  it('dynamic imports and require() of built-ins keep working', async () => {
    const out = await bundleOf(
      [
        "const os = await import('node:os');",
        "import { createRequire } from 'node:module';",
        "const path = createRequire(import.meta.url)('node:path');",
        'console.log(JSON.stringify({ os: typeof os.default.hostname, named: typeof os.hostname, path: path.sep }));',
      ].join('\n'),
    );
    expect(runBundle(out)).toEqual({ os: 'function', named: 'function', path: '/' });
  });
});
