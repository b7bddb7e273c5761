import { describe, expect, it } from 'vitest';
import { countByUser, parseAuditLog, requestsIn } from './audit.ts';

const line = (o: Record<string, unknown>) => JSON.stringify({ kind: 'Event', level: 'Metadata', ...o });
const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

describe('audit log', () => {
  const text = [
    line({
      auditID: 'w1',
      stage: 'ResponseStarted',
      verb: 'watch',
      user: { username: 'agent' },
      objectRef: { resource: 'nodes' },
      stageTimestamp: at(1),
    }),
    line({
      auditID: 'w1',
      stage: 'ResponseComplete',
      verb: 'watch',
      user: { username: 'agent' },
      objectRef: { resource: 'nodes' },
      stageTimestamp: at(9),
    }),
    line({
      auditID: 'p1',
      stage: 'ResponseComplete',
      verb: 'patch',
      user: { username: 'agent' },
      objectRef: { resource: 'nodes', subresource: 'status' },
      responseStatus: { code: 200 },
      stageTimestamp: at(2),
    }),
    line({
      auditID: 'l1',
      stage: 'ResponseComplete',
      verb: 'list',
      user: { username: 'kube-proxy' },
      objectRef: { resource: 'services' },
      stageTimestamp: at(3),
    }),
    '{"torn": ', // a line still being written
    '',
  ].join('\n');

  it('counts each request once (a watch when it starts), per user and verb, inside the window', () => {
    const events = parseAuditLog(text);
    expect(events).toHaveLength(4);
    expect(countByUser(requestsIn(events, Date.parse(at(0)), Date.parse(at(10))))).toEqual({
      agent: { 'watch nodes': 1, 'patch nodes/status': 1 },
      'kube-proxy': { 'list services': 1 },
    });
    // the watch started before the window: only its completion falls inside, which does not count
    expect(countByUser(requestsIn(events, Date.parse(at(2)), Date.parse(at(10))))).toEqual({
      agent: { 'patch nodes/status': 1 },
      'kube-proxy': { 'list services': 1 },
    });
  });
});
