/**
 * An esbuild plugin for the shipped bundles: npm undici is bundled but evaluated only if something
 * calls it.
 *
 * Why: client-node's modules import undici at their top for their default transport (`fetch`, and
 * the `Agent`/`ProxyAgent` its `applySecurityAuthentication` builds per request). netwarden sends
 * every request over `node:https` instead (kube/http.ts), so undici's code would run at start only
 * to sit unused: the idle agent bundle held 75.5 MB RSS with it evaluated, 71.9 MB without
 * (medians of 3, shipped flags, stop 34).
 *
 * Each `import { fetch, Agent, ProxyAgent } from 'undici'` gets a stand-in of the same name that
 * loads the real undici (bundled, as a CommonJS module esbuild evaluates on first `require`) and
 * hands over to it, so a path that does use undici still works, only later. A bundled module
 * importing any other name from undici fails the build, naming it (esbuild: no matching export).
 */
import type { Plugin } from 'esbuild';

const NAMESPACE = 'netwarden-lazy-undici';

/** What undici's importers get. `require('undici')` here resolves to the real package. */
const STAND_IN = `
let real;
const undici = () => (real ??= require('undici'));
export function fetch(...args) { return undici().fetch(...args); }
export class Agent { constructor(...args) { return new (undici().Agent)(...args); } }
export class ProxyAgent { constructor(...args) { return new (undici().ProxyAgent)(...args); } }
`;

/** The plugin; `resolveDir` is where the real undici is found from (the repository). */
export function lazyUndici(resolveDir: string): Plugin {
  return {
    name: NAMESPACE,
    setup(build) {
      // Every importer but the stand-in gets the stand-in; the stand-in's require finds undici itself.
      build.onResolve({ filter: /^undici$/ }, (args) =>
        args.namespace === NAMESPACE ? undefined : { path: 'undici', namespace: NAMESPACE },
      );
      build.onLoad({ filter: /.*/, namespace: NAMESPACE }, () => ({
        contents: STAND_IN,
        loader: 'js',
        resolveDir,
      }));
    },
  };
}
