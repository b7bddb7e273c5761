/**
 * Putting the boot gate into a CNI network configuration list and taking it out again, on the
 * parsed JSON. Pure and idempotent: inserting twice changes nothing the second time; every other
 * plugin and every other field stays as it was (key order included); the gate ends up last, once.
 *
 * Declined, with the reason, where chaining cannot work or would mean taking over a file:
 * - a single-plugin file (`.conf`, `.json`): the runtime reads those as one plugin, never a
 *   list, so the gate would need a new `.conflist` beside a file the CNI daemon owns and rewrites
 *   (the daemon's `.conf` would then win or race); such a CNI is left ungated;
 * - a spec version before 0.3.0 (no chaining, no prevResult), or no usable `plugins` list.
 */
import { GATE_PLUGIN_TYPE } from './boot-gate.ts';
import { isObj, type JsonObject } from './json.ts';

/** The outcome of an edit. */
export type ConflistEdit =
  | { readonly kind: 'changed'; readonly doc: JsonObject }
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'declined'; readonly reason: string };

const isGate = (p: unknown): boolean => isObj(p) && p.type === GATE_PLUGIN_TYPE;

/** Why a conflist cannot take a chained plugin, or undefined when it can. */
function unchainable(doc: unknown, fileName: string): string | undefined {
  if (!fileName.endsWith('.conflist'))
    return `${fileName} is a single-plugin configuration (runtimes read .conf and .json files as one plugin, never a list): its CNI cannot chain the boot gate; configure that CNI to write a .conflist`;
  if (!isObj(doc)) return `${fileName} is not a JSON object`;
  if (typeof doc.cniVersion !== 'string') return `${fileName} has no "cniVersion"`;
  const [major, minor] = doc.cniVersion.split('.').map(Number);
  if (major === undefined || minor === undefined || Number.isNaN(major) || Number.isNaN(minor))
    return `${fileName}: cniVersion "${doc.cniVersion}" is not a version`;
  if (major === 0 && minor < 3)
    return `${fileName}: cniVersion ${doc.cniVersion} predates plugin chaining (0.3.0)`;
  if (!Array.isArray(doc.plugins) || !doc.plugins.some((p) => isObj(p) && !isGate(p)))
    return `${fileName} has no "plugins" besides the boot gate`;
  return undefined;
}

/** The conflist with `entry` (the gate's plugin object) as its last plugin, exactly once. */
export function insertGate(doc: unknown, fileName: string, entry: JsonObject): ConflistEdit {
  const why = unchainable(doc, fileName);
  if (why !== undefined) return { kind: 'declined', reason: why };
  const list = doc as JsonObject & { plugins: unknown[] };
  const plugins = [...list.plugins.filter((p) => !isGate(p)), { ...entry, type: GATE_PLUGIN_TYPE }];
  if (JSON.stringify(plugins) === JSON.stringify(list.plugins)) return { kind: 'unchanged' };
  return { kind: 'changed', doc: { ...list, plugins } };
}

/** The conflist without any boot gate entry (unchanged when it has none). */
export function removeGate(doc: unknown): ConflistEdit {
  if (!isObj(doc) || !Array.isArray(doc.plugins) || !doc.plugins.some(isGate)) return { kind: 'unchanged' };
  const plugins = doc.plugins.filter((p) => !isGate(p));
  if (plugins.length === 0)
    return {
      kind: 'declined',
      reason: 'the boot gate is its only plugin: removing it would leave no plugin',
    };
  return { kind: 'changed', doc: { ...doc, plugins } };
}

/** True when the conflist's last plugin is the boot gate. */
export function gateIsLast(doc: unknown): boolean {
  return isObj(doc) && Array.isArray(doc.plugins) && isGate(doc.plugins[doc.plugins.length - 1]);
}
