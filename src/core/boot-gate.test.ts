import { describe, expect, it } from 'vitest';
import {
  DEFAULT_GATE_SETTINGS,
  formatBootSeen,
  formatHeartbeat,
  GATE_OUTCOMES,
  gateEntry,
  parseBootStamp,
  parseGateCounters,
  parseGateLog,
  parseUptimeMs,
  summarizeGateLog,
  verifiedBootId,
} from './boot-gate.ts';
import { BOOT_ID_ANNOTATION, READY_AT_ANNOTATION } from './gate.ts';

const BOOT = '427d8f76-71cb-44d6-bf34-0b6e0ea48353';

describe('gate entry', () => {
  it('names every setting with Go-parsable durations', () => {
    expect(gateEntry(DEFAULT_GATE_SETTINGS)).toEqual({
      type: 'netwarden-cni-gate',
      stateDir: '/run/netwarden',
      bootIdFile: '/proc/sys/kernel/random/boot_id',
      bootGateDeadline: '5m',
      maxWait: '20s',
      agentStartGrace: '2m',
      heartbeatStale: '30s',
      exemptNamespaces: ['kube-system'],
    });
    expect(
      gateEntry({ ...DEFAULT_GATE_SETTINGS, maxWaitMs: 1500, bootGateDeadlineMs: 90_000 }),
    ).toMatchObject({
      maxWait: '1.5s',
      bootGateDeadline: '1m30s',
    });
  });
});

describe('state files', () => {
  it('round-trips heartbeat and first-sighting stamps', () => {
    expect(formatHeartbeat({ bootId: BOOT, uptimeMs: 1234.6 }, 42)).toBe(
      `{"bootId":"${BOOT}","uptimeMs":1235,"pid":42}\n`,
    );
    expect(parseBootStamp(formatHeartbeat({ bootId: BOOT, uptimeMs: 5 }, 1))).toEqual({
      bootId: BOOT,
      uptimeMs: 5,
    });
    expect(parseBootStamp(formatBootSeen({ bootId: BOOT, uptimeMs: 7 }))).toEqual({
      bootId: BOOT,
      uptimeMs: 7,
    });
    // What the Go plugin writes.
    expect(parseBootStamp(`{"bootId":"${BOOT}","uptimeMs":2702240}\n`)).toEqual({
      bootId: BOOT,
      uptimeMs: 2702240,
    });
  });
  it.each(['', 'nope', '[]', '{"bootId":""}', '{"bootId":"x"}', '{"bootId":"x","uptimeMs":"1"}'])(
    'rejects %j as a stamp',
    (text) => {
      expect(parseBootStamp(text)).toBeUndefined();
    },
  );
  it('reads /proc/uptime', () => {
    expect(parseUptimeMs('2702.24 5000.10\n')).toBe(2_702_240);
    expect(parseUptimeMs('x y')).toEqual({ error: expect.stringContaining('/proc/uptime') });
    expect(parseUptimeMs('')).toEqual({ error: expect.stringContaining('unexpected content') });
  });
  it('reads the counters, zero for outcomes never seen, ignoring junk', () => {
    const c = parseGateCounters('{"passed":3,"retry":2,"frob":9,"released":-1}\n');
    expect(c).toEqual({ ...Object.fromEntries(GATE_OUTCOMES.map((o) => [o, 0])), passed: 3, retry: 2 });
    expect(parseGateCounters('garbage').passed).toBe(0);
  });
});

describe('summarizeGateLog', () => {
  const line = (o: Record<string, unknown>) => JSON.stringify({ time: 't', ...o });
  const log = [
    line({ event: 'hold', bootId: BOOT }),
    line({ event: 'add', outcome: 'retry', bootId: BOOT, heldMs: 20_000 }),
    line({ event: 'add', outcome: 'released', bootId: BOOT, heldMs: 7_300 }),
    line({ event: 'add', outcome: 'exempt', bootId: BOOT }),
    line({ event: 'add', outcome: 'failed_open_deadline', bootId: BOOT }),
    line({ event: 'add', outcome: 'failed_open_agent_stale', bootId: BOOT, heldMs: 900 }),
    line({ event: 'add', outcome: 'retry', bootId: 'other-boot', heldMs: 99_000 }),
    'not json',
    '',
  ].join('\n');
  it('counts waits, the longest wait, and fail-opens of one boot', () => {
    expect(summarizeGateLog(log, BOOT)).toEqual({
      held: 3,
      maxHeldMs: 20_000,
      failedOpen: 2,
      retries: 1,
      released: 1,
      exempt: 1,
    });
    expect(summarizeGateLog(log).maxHeldMs).toBe(99_000);
  });
});

describe('parseGateLog', () => {
  it('reads hold and add records with their time, pod and reason; skips junk and other events', () => {
    const text = [
      JSON.stringify({
        time: '2026-12-02T09:00:01.5Z',
        event: 'hold',
        pod: 'shop/web-0',
        bootId: BOOT,
        reason: 'the agent is verifying',
      }),
      JSON.stringify({ time: 'not a time', event: 'add', outcome: 'released', heldMs: 7_300 }),
      JSON.stringify({ event: 'frob', outcome: 'passed' }),
      '{"event":',
    ].join('\n');
    expect(parseGateLog(text)).toEqual([
      {
        event: 'hold',
        timeMs: Date.parse('2026-12-02T09:00:01.5Z'),
        outcome: '',
        heldMs: 0,
        bootId: BOOT,
        pod: 'shop/web-0',
        reason: 'the agent is verifying',
      },
      {
        event: 'add',
        timeMs: undefined,
        outcome: 'released',
        heldMs: 7_300,
        bootId: undefined,
        pod: undefined,
        reason: '',
      },
    ]);
  });
});

describe('verifiedBootId', () => {
  const node = (annotations: Record<string, string>) => ({ bootId: BOOT, annotations });
  it('is the boot id once the gate opened on this boot', () => {
    expect(
      verifiedBootId(node({ [BOOT_ID_ANNOTATION]: BOOT, [READY_AT_ANNOTATION]: '2026-12-02T09:00:00Z' })),
    ).toBe(BOOT);
  });
  it.each([
    ['new boot, not yet closed', node({ [BOOT_ID_ANNOTATION]: 'old', [READY_AT_ANNOTATION]: 'x' })],
    ['closed for this boot, not yet verified', node({ [BOOT_ID_ANNOTATION]: BOOT })],
    [
      'no boot id reported yet',
      { bootId: undefined, annotations: { [BOOT_ID_ANNOTATION]: BOOT, [READY_AT_ANNOTATION]: 'x' } },
    ],
    ['no annotations', node({})],
  ])('is undefined when %s', (_n, n) => {
    expect(verifiedBootId(n)).toBeUndefined();
  });
});
