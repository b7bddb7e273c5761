import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HEAP_TRIM_EVERY_MS, HeapTrimSchedule } from './heap-trim.ts';
import { AgentMetrics } from './metrics.ts';

async function counts(registry: Registry): Promise<Record<string, number>> {
  const m = await registry.getSingleMetric('netwarden_heap_trims_total')?.get();
  return Object.fromEntries((m?.values ?? []).map((v) => [String(v.labels.outcome), v.value]));
}

describe('HeapTrimSchedule', () => {
  it('trims after the first round, then at most once per interval, counting each outcome', async () => {
    const registry = new Registry();
    const metrics = new AgentMetrics(registry);
    let now = 1_000;
    const results = [true, false, true];
    let calls = 0;
    const schedule = new HeapTrimSchedule(
      { trim: () => results[calls++] ?? false },
      () => now,
      metrics.heapTrims,
    );
    schedule.afterRound();
    expect(calls).toBe(1);
    // Rounds every 250 ms while the gate is closed: none of them trims within the interval.
    for (let i = 0; i < 10; i++) {
      now += 250;
      schedule.afterRound();
    }
    expect(calls).toBe(1);
    now = 1_000 + HEAP_TRIM_EVERY_MS - 1;
    schedule.afterRound();
    expect(calls).toBe(1);
    now = 1_000 + HEAP_TRIM_EVERY_MS;
    schedule.afterRound();
    expect(calls).toBe(2);
    now += HEAP_TRIM_EVERY_MS;
    schedule.afterRound();
    expect(calls).toBe(3);
    expect(await counts(registry)).toEqual({ returned: 2, nothing: 1 });
  });

  it('never throws: a trim that throws is counted failed and none follows', async () => {
    const registry = new Registry();
    const metrics = new AgentMetrics(registry);
    let now = 0;
    let calls = 0;
    const schedule = new HeapTrimSchedule(
      {
        trim: () => {
          calls++;
          throw new Error('ffi went away');
        },
      },
      () => now,
      metrics.heapTrims,
    );
    expect(() => schedule.afterRound()).not.toThrow();
    now += 10 * HEAP_TRIM_EVERY_MS;
    schedule.afterRound();
    expect(calls).toBe(1);
    expect(await counts(registry)).toEqual({ failed: 1 });
  });
});
