import { describe, expect, it } from 'vitest';
import type { WatchEvent } from './types.ts';
import { type ListResult, type RawWatchEvent, Reflector, relistDiff, type WatchTransport } from './watch.ts';

interface Obj {
  metadata: { name: string; namespace?: string; resourceVersion: string };
  v?: number;
}
const obj = (name: string, rv: string, v = 0): Obj => ({ metadata: { name, resourceVersion: rv }, v });

describe('relistDiff', () => {
  it('turns a relist into added, modified and deleted events', () => {
    const known = new Map([
      ['a', obj('a', '1')],
      ['b', obj('b', '2')],
      ['c', obj('c', '3')],
    ]);
    const events = relistDiff(known, [obj('a', '1'), obj('b', '5'), obj('d', '6')]);
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual([
      'MODIFIED b',
      'ADDED d',
      'DELETED c',
    ]);
  });
});

/** A scripted transport: each watch() call plays the next script, then ends with its error. */
class ScriptedTransport implements WatchTransport<Obj> {
  lists: ListResult<Obj>[] = [];
  scripts: { events: RawWatchEvent[]; end: unknown }[] = [];
  watchedFrom: string[] = [];
  listCalls = 0;
  #idle: (() => void) | undefined;

  async list(keep: (o: Obj) => Obj = (o) => o): Promise<ListResult<Obj>> {
    this.listCalls++;
    const next = this.lists.shift();
    if (!next) throw new Error('no more lists scripted');
    return { ...next, items: next.items.map(keep) };
  }

  async watch(rv: string, onEvent: (e: RawWatchEvent) => void, onDone: (err: unknown) => void) {
    this.watchedFrom.push(rv);
    const script = this.scripts.shift();
    if (!script) {
      // Out of script: stay open until aborted.
      this.#idle = () => onDone(null);
      return { abort: () => this.#idle?.() };
    }
    queueMicrotask(() => {
      for (const e of script.events) onEvent(e);
      onDone(script.end);
    });
    return { abort: () => {} };
  }
}

async function settle(until: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !until(); i++) await new Promise((r) => setTimeout(r, 1));
}

describe('Reflector', () => {
  // Sleeping yields to the event loop (as a real timer does) so the test's own timers still run.
  const timing = {
    minBackoffMs: 0,
    maxBackoffMs: 0,
    firstListRetryMs: 0,
    sleep: () => new Promise<void>((r) => setImmediate(r)),
  };

  it('resumes from the last resourceVersion after a dropped watch, losing nothing', async () => {
    const t = new ScriptedTransport();
    t.lists.push({ items: [obj('a', '10')], resourceVersion: '10' });
    t.scripts.push({ events: [{ type: 'ADDED', object: obj('b', '11') }], end: new Error('ECONNRESET') });
    t.scripts.push({
      events: [
        { type: 'MODIFIED', object: obj('a', '12', 1) },
        { type: 'BOOKMARK', object: { metadata: { resourceVersion: '15' } } },
      ],
      end: null,
    });
    const seen: WatchEvent<Obj>[] = [];
    const r = new Reflector(t, { onEvent: (e) => seen.push(e) }, timing);
    await r.start();
    await settle(() => t.watchedFrom.length >= 3);
    await r.stop();
    expect(t.watchedFrom).toEqual(['10', '11', '15']);
    expect(
      seen.map((e) => `${e.type} ${e.object.metadata.name}@${e.object.metadata.resourceVersion}`),
    ).toEqual(['ADDED a@10', 'ADDED b@11', 'MODIFIED a@12']);
    expect(r.stats()).toMatchObject({ relists: 0, resumes: 2 });
  });

  it('stores and delivers only what keep returns: one copy, shared with the handler', async () => {
    const t = new ScriptedTransport();
    t.lists.push({ items: [obj('a', '10', 7)], resourceVersion: '10' });
    t.scripts.push({
      events: [
        { type: 'BOOKMARK', object: { metadata: { resourceVersion: '11' } } },
        { type: 'ADDED', object: obj('b', '12', 8) },
      ],
      end: null,
    });
    const kept: Obj[] = [];
    const seen: Obj[] = [];
    const keep = (o: Obj): Obj => {
      const slim = { metadata: o.metadata, v: -1 };
      kept.push(slim);
      return slim;
    };
    const r = new Reflector(t, { keep, onEvent: (e) => seen.push(e.object) }, timing);
    await r.start();
    await settle(() => t.watchedFrom.length >= 2);
    await r.stop();
    // The bookmark is not an object: it moves the resourceVersion and never goes through keep.
    expect(kept.map((o) => o.metadata.name)).toEqual(['a', 'b']);
    expect(t.watchedFrom).toEqual(['10', '12']);
    expect(r.snapshot().map((o) => o.v)).toEqual([-1, -1]);
    for (const [i, o] of r.snapshot().entries()) {
      expect(o).toBe(kept[i]);
      expect(o).toBe(seen[i]);
    }
  });

  it('relists on 410 Gone (in-stream ERROR or HTTP) and emits the difference', async () => {
    const t = new ScriptedTransport();
    t.lists.push({ items: [obj('a', '10'), obj('b', '10')], resourceVersion: '10' });
    t.scripts.push({
      events: [{ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } }],
      end: null,
    });
    t.lists.push({ items: [obj('a', '20', 2), obj('c', '21')], resourceVersion: '30' });
    t.scripts.push({ events: [], end: { statusCode: 410 } });
    t.lists.push({ items: [obj('a', '20', 2), obj('c', '21')], resourceVersion: '40' });
    const seen: string[] = [];
    const r = new Reflector(t, { onEvent: (e) => seen.push(`${e.type} ${e.object.metadata.name}`) }, timing);
    await r.start();
    await settle(() => t.watchedFrom.length >= 3);
    await r.stop();
    expect(seen).toEqual(['ADDED a', 'ADDED b', 'MODIFIED a', 'ADDED c', 'DELETED b']);
    expect(t.watchedFrom).toEqual(['10', '30', '40']);
    expect(
      r
        .snapshot()
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['a', 'c']);
    expect(r.stats().relists).toBe(2);
  });

  it("with the handler's store, keeps no map of its own and relists against the store", async () => {
    const t = new ScriptedTransport();
    t.lists.push({ items: [obj('a', '10'), obj('b', '10')], resourceVersion: '10' });
    t.scripts.push({ events: [{ type: 'ADDED', object: obj('c', '11') }], end: { statusCode: 410 } });
    t.lists.push({ items: [obj('a', '20'), obj('c', '11')], resourceVersion: '30' });
    const store = new Map<string, Obj>();
    const seen: string[] = [];
    // The handler keeps the store, as the contract asks; the reflector must not write it.
    const onEvent = (e: WatchEvent<Obj>): void => {
      seen.push(`${e.type} ${e.object.metadata.name}`);
      if (e.type === 'DELETED') store.delete(e.object.metadata.name);
      else store.set(e.object.metadata.name, e.object);
    };
    const r = new Reflector(t, { store, onEvent }, timing);
    await r.start();
    await settle(() => t.watchedFrom.length >= 2);
    await r.stop();
    // b is gone from the relist: its DELETED comes from what the store held (c unchanged: no event).
    expect(seen).toEqual(['ADDED a', 'ADDED b', 'ADDED c', 'MODIFIED a', 'DELETED b']);
    expect([...store.keys()].sort()).toEqual(['a', 'c']);
    expect(r.snapshot()).toEqual([...store.values()]);
  });

  it('leaves the store to the handler: an event the handler does not store is not stored', async () => {
    const t = new ScriptedTransport();
    t.lists.push({ items: [obj('a', '10')], resourceVersion: '10' });
    const store = new Map<string, Obj>();
    const r = new Reflector(t, { store, onEvent: () => {} }, timing);
    await r.start();
    await r.stop();
    expect(store.size).toBe(0);
    expect(r.snapshot()).toEqual([]);
  });

  it('keeps retrying a failing relist with back-off instead of dying', async () => {
    const t = new ScriptedTransport();
    t.lists.push({ items: [], resourceVersion: '1' });
    t.scripts.push({ events: [], end: { statusCode: 410 } });
    // second list fails (no script) once, then succeeds
    const errors: string[] = [];
    const r = new Reflector(t, { onEvent: () => {}, onError: (m) => errors.push(m) }, timing);
    await r.start();
    await settle(() => errors.some((e) => e.includes('no more lists')));
    t.lists.push({ items: [obj('z', '9')], resourceVersion: '9' });
    t.scripts.push({ events: [], end: { statusCode: 410 } });
    await settle(() => r.snapshot().length === 1);
    await r.stop();
    expect(r.snapshot()[0]?.metadata.name).toBe('z');
  });

  it('retries a failing first list with back-off, then gives up with its error', async () => {
    const slept: number[] = [];
    const sleep = async (ms: number): Promise<void> => {
      slept.push(ms);
      await new Promise<void>((r) => setImmediate(r));
    };
    const t = new ScriptedTransport();
    const errors: string[] = [];
    const retrying = { minBackoffMs: 200, maxBackoffMs: 1_000, firstListRetryMs: 3_000, sleep };
    // two failures, then the list answers
    let failures = 2;
    const list = t.list.bind(t);
    t.list = async (keep) => {
      if (failures-- > 0) throw new Error('no answer within 10000 ms');
      return list(keep);
    };
    t.lists.push({ items: [obj('a', '1')], resourceVersion: '1' });
    t.scripts.push({ events: [], end: null });
    const r = new Reflector(t, { onEvent: () => {}, onError: (m) => errors.push(m) }, retrying);
    await r.start();
    await r.stop();
    expect(r.snapshot().map((o) => o.metadata.name)).toEqual(['a']);
    expect(errors.filter((e) => e.startsWith('first list failed')).length).toBe(2);
    expect(slept).toEqual([200, 400]);

    // never answering: the retries stop once 3 s of back-off were slept, with the list's error
    slept.length = 0;
    const never = new ScriptedTransport();
    const r2 = new Reflector(never, { onEvent: () => {} }, retrying);
    await expect(r2.start()).rejects.toThrow('no more lists scripted');
    expect(slept).toEqual([200, 400, 800, 1_000, 1_000]);
  });
});
