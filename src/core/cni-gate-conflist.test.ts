import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_GATE_SETTINGS, GATE_PLUGIN_TYPE, gateEntry } from './boot-gate.ts';
import { gateIsLast, insertGate, removeGate } from './cni-gate-conflist.ts';
import type { JsonObject } from './json.ts';

// Real configurations as their daemons write them (examples/ holds the recorded bundles).
const AWS = JSON.parse(readFileSync('examples/healthy-node/cni/10-aws.conflist', 'utf8')) as JsonObject;
const CALICO = JSON.parse(readFileSync('examples/cni-conflict/cni/05-calico.conflist', 'utf8')) as JsonObject;
const ENTRY = gateEntry(DEFAULT_GATE_SETTINGS);

const changed = (e: ReturnType<typeof insertGate>): JsonObject => {
  if (e.kind !== 'changed') throw new Error(`expected a change, got ${JSON.stringify(e)}`);
  return e.doc;
};

describe('insertGate', () => {
  it.each([
    ['10-aws.conflist', AWS],
    ['10-calico.conflist', CALICO],
  ])('appends the gate last to %s and keeps everything else', (file, doc) => {
    const out = changed(insertGate(doc, file, ENTRY));
    const plugins = out.plugins as JsonObject[];
    expect(plugins.slice(0, -1)).toEqual(doc.plugins);
    expect(plugins.at(-1)).toEqual(ENTRY);
    expect(Object.keys(out)).toEqual(Object.keys(doc));
    expect({ ...out, plugins: doc.plugins }).toEqual(doc);
    expect(gateIsLast(out)).toBe(true);
  });

  it('is idempotent, and moves a gate that is not last to the end', () => {
    const once = changed(insertGate(AWS, '10-aws.conflist', ENTRY));
    expect(insertGate(once, '10-aws.conflist', ENTRY)).toEqual({ kind: 'unchanged' });
    const plugins = once.plugins as JsonObject[];
    const misplaced = { ...once, plugins: [plugins.at(-1), ...plugins.slice(0, -1), plugins.at(-1)] };
    expect(changed(insertGate(misplaced, '10-aws.conflist', ENTRY))).toEqual(once);
  });

  it('updates a gate entry whose settings changed', () => {
    const once = changed(insertGate(AWS, '10-aws.conflist', ENTRY));
    const longer = { ...ENTRY, maxWait: '30s' };
    const out = changed(insertGate(once, '10-aws.conflist', longer));
    expect((out.plugins as JsonObject[]).at(-1)).toEqual(longer);
    expect((out.plugins as unknown[]).length).toBe((AWS.plugins as unknown[]).length + 1);
  });

  it.each([
    [
      '10-flannel.conf',
      { cniVersion: '0.3.1', name: 'cbr0', type: 'flannel' },
      /single-plugin configuration/,
    ],
    ['10-x.json', { cniVersion: '1.0.0', name: 'x', plugins: [{ type: 'ptp' }] }, /single-plugin/],
    [
      '10-old.conflist',
      { cniVersion: '0.2.0', name: 'x', plugins: [{ type: 'bridge' }] },
      /predates plugin chaining/,
    ],
    ['10-x.conflist', { cniVersion: 'one', name: 'x', plugins: [{ type: 'bridge' }] }, /not a version/],
    ['10-x.conflist', { name: 'x', plugins: [{ type: 'bridge' }] }, /no "cniVersion"/],
    ['10-x.conflist', { cniVersion: '1.0.0', name: 'x', plugins: [] }, /no "plugins"/],
    [
      '10-x.conflist',
      { cniVersion: '1.0.0', name: 'x', plugins: [{ type: GATE_PLUGIN_TYPE }] },
      /no "plugins"/,
    ],
    ['10-x.conflist', [1, 2], /not a JSON object/],
  ])('declines %s with the reason', (file, doc, reason) => {
    const e = insertGate(doc, file, ENTRY);
    expect(e.kind).toBe('declined');
    expect(e.kind === 'declined' && e.reason).toMatch(reason);
  });

  it('insert then remove gives back the original, for any plugin list', () => {
    const plugin = fc.record({
      type: fc.constantFrom('ptp', 'bridge', 'portmap', 'aws-cni', 'calico'),
      n: fc.nat(),
    });
    fc.assert(
      fc.property(fc.array(plugin, { minLength: 1, maxLength: 6 }), fc.string(), (plugins, extra) => {
        const doc = { cniVersion: '1.0.0', name: 'net', extra, plugins };
        const once = changed(insertGate(doc, 'a.conflist', ENTRY));
        expect(insertGate(once, 'a.conflist', ENTRY)).toEqual({ kind: 'unchanged' });
        const back = removeGate(once);
        expect(back).toEqual({ kind: 'changed', doc });
      }),
    );
  });
});

describe('removeGate', () => {
  it('leaves a conflist without the gate alone', () => {
    expect(removeGate(AWS)).toEqual({ kind: 'unchanged' });
    expect(removeGate({ name: 'x' })).toEqual({ kind: 'unchanged' });
  });
  it('removes every gate entry', () => {
    const doc = { cniVersion: '1.0.0', name: 'n', plugins: [ENTRY, { type: 'ptp' }, ENTRY] };
    expect(removeGate(doc)).toEqual({ kind: 'changed', doc: { ...doc, plugins: [{ type: 'ptp' }] } });
  });
  it('declines to leave a list with no plugin', () => {
    expect(removeGate({ cniVersion: '1.0.0', name: 'n', plugins: [ENTRY] }).kind).toBe('declined');
  });
});
