/**
 * An esbuild plugin for the shipped bundles: Node.js built-in modules that bundled code imports as
 * ES modules (`import http from 'node:http'`) are loaded through `require` instead.
 *
 * Why: Node.js builds a built-in's ES module facade by reading every export, its lazy getters too.
 * `node:http`'s include `WebSocket`, `CloseEvent` and `MessageEvent`, and reading one loads Node.js's
 * own copy of undici (`internal/deps/undici/undici`), which netwarden never uses (it brings undici
 * from npm for the API client). Idle, with the shipped flags: bare `node` 45.5 MB RSS; plus
 * `require('node:http')` 47.5 MB; plus `import('node:http')` 61.1 MB. `node:tls` runs its
 * `rootCertificates` getter the same way, `node:crypto` its `webcrypto`. `require` reads none of them.
 *
 * The facade each import gets instead: `default` is the module object itself (every export, the
 * lazy ones read only when code reads them); the named exports are the module's plain data
 * properties, read at load, and the lazy ones in {@link LAZY_NAMED_EXPORTS}, which bundled code
 * imports by name (so reads at load anyway). Any other named import of a lazy export fails the
 * build, naming it: no getter is read at load behind anyone's back. `node:module` stays a real ES
 * import: the facades need its `createRequire`.
 */
import { builtinModules, createRequire } from 'node:module';
import type { Plugin } from 'esbuild';

const NAMESPACE = 'netwarden-builtin';

/**
 * The built-in a specifier names (`node:x` or `x`); undefined for anything else and for `node:module`.
 * Built-ins that exist only with the prefix (`node:test`, `node:sqlite`; builtinModules lists them
 * so) stay real ES imports.
 */
function builtinName(spec: string): string | undefined {
  const name = spec.startsWith('node:') ? spec.slice(5) : spec;
  if (name === 'module') return undefined;
  return builtinModules.includes(name) ? name : undefined;
}

/** Lazy exports that bundled code imports by name, by built-in. Cheap to read. */
const LAZY_NAMED_EXPORTS: Readonly<Record<string, readonly string[]>> = {
  async_hooks: ['AsyncLocalStorage'],
};

/** The export names served: own data properties and the `lazy` names asked for, not `default`. */
export function servedExportNames(moduleObject: object, lazy: readonly string[] = []): string[] {
  return Object.entries(Object.getOwnPropertyDescriptors(moduleObject))
    .filter(([k, d]) => k !== 'default' && (!('get' in d || 'set' in d) || lazy.includes(k)))
    .map(([k]) => k);
}

/** The facade module's source for built-in `name`, from the building Node.js's view of it. */
export function facadeSource(name: string): string {
  const req = createRequire(import.meta.url);
  const names = servedExportNames(req(`node:${name}`) as object, LAZY_NAMED_EXPORTS[name]);
  const lines = [
    "import { createRequire } from 'node:module';",
    `const m = createRequire(import.meta.url)(${JSON.stringify(`node:${name}`)});`,
    'export default m;',
  ];
  for (const [i, k] of names.entries()) lines.push(`const e${i} = m[${JSON.stringify(k)}];`);
  // Export names written as strings may be any name, reserved words too; the locals are numbered.
  if (names.length > 0)
    lines.push(`export { ${names.map((k, i) => `e${i} as ${JSON.stringify(k)}`).join(', ')} };`);
  return `${lines.join('\n')}\n`;
}

/** The plugin: ES imports of built-ins resolve to {@link facadeSource}; `require()` calls are left as they are. */
export function builtinImportsViaRequire(): Plugin {
  return {
    name: 'netwarden-builtin-imports',
    setup(build) {
      build.onResolve({ filter: /^(node:)?[a-z_][a-z0-9_/]*$/ }, (args) => {
        if (args.kind !== 'import-statement' && args.kind !== 'dynamic-import') return undefined;
        const name = builtinName(args.path);
        return name === undefined ? undefined : { path: name, namespace: NAMESPACE };
      });
      build.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => ({
        contents: facadeSource(args.path),
        loader: 'js',
        resolveDir: process.cwd(),
      }));
    },
  };
}
