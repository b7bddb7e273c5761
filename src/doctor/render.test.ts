import { describe, expect, it } from 'vitest';
import type { DoctorReport } from './analyze.ts';
import { render } from './render.ts';

const report: DoctorReport = {
  node: 'n1',
  inputs: {
    source: 'b',
    found: ['networking/iprule.txt'],
    missing: ['cni/ (CNI config directory)'],
    notes: [],
  },
  proxyMode: 'iptables',
  verdicts: {
    kubeProxy: { status: 'ok', reason: 'KubeProxyRulesComplete', message: '3 service port(s) programmed' },
  },
  findings: [
    {
      code: 'pod-rule-missing',
      severity: 'critical',
      title: '1 pod misses | its rule',
      evidence: Array.from({ length: 8 }, (_, i) => `line ${i} ${'x'.repeat(300)}`),
      subjects: [{ kind: 'pod', name: 'a/b' }],
      fix: 'delete the pod',
    },
    {
      code: 'cluster-state-unavailable',
      severity: 'info',
      title: 'no state',
      evidence: [],
      subjects: [],
      fix: 'pass it',
    },
  ],
};

describe('render', () => {
  it('JSON follows docs/doctor.md', () => {
    const doc = JSON.parse(render(report, 'json'));
    expect(Object.keys(doc)).toEqual(['node', 'inputs', 'proxyMode', 'findings', 'summary']);
    expect(doc.inputs).toEqual({
      source: 'b',
      found: ['networking/iprule.txt'],
      missing: ['cni/ (CNI config directory)'],
    });
    expect(doc.summary).toEqual({ critical: 1, warning: 0, info: 1 });
    expect(doc.findings[0].evidence).toHaveLength(8);
    expect(Object.keys(doc.findings[0])).toEqual([
      'code',
      'severity',
      'title',
      'evidence',
      'subjects',
      'fix',
    ]);
  });

  it('text trims evidence, spells out the fix, and colours only when asked', () => {
    const plain = render(report, 'text');
    expect(plain).not.toContain('\x1b[');
    expect(plain).toContain('… 3 more line(s)');
    expect(plain).toContain('fix: delete the pod');
    expect(plain.split('\n').every((l) => l.length < 200 || l.startsWith('    fix:'))).toBe(true);
    expect(render(report, 'text', { color: true })).toContain('\x1b[1;31m');
  });

  it('markdown escapes table pipes and fences evidence', () => {
    const md = render(report, 'markdown');
    expect(md).toContain('1 pod misses \\| its rule');
    expect(md).toContain('```\nline 0');
  });
});
