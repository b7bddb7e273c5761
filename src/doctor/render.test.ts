import { describe, expect, it } from 'vitest';
import type { DoctorReport } from './analyze.ts';
import { render, terminalSafe } from './render.ts';

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
    expect(Object.keys(doc)).toEqual(['node', 'inputs', 'proxyMode', 'verdicts', 'findings', 'summary']);
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

/** Control characters in `s` (C0 but newline, and tab unless `tab`; DEL; C1; bidi overrides). */
function controls(s: string, tab = true): string[] {
  return [...s].filter((c) => {
    const x = c.codePointAt(0) ?? 0;
    const c0 = x < 0x20 && x !== 0x0a && !(tab && x === 0x09);
    return c0 || (x >= 0x7f && x <= 0x9f) || (x >= 0x202a && x <= 0x202e);
  });
}
const ESC = String.fromCharCode(0x1b);

describe('render: bundle text cannot drive the terminal', () => {
  const evil = `${ESC}]0;pwned\x07${ESC}[2J`;
  const hostile: DoctorReport = {
    node: `node${evil}`,
    inputs: { source: `bundle${evil}`, found: [], missing: [], notes: [] },
    verdicts: {
      kubeProxy: { status: 'unknown', reason: 'KubeProxyPresenceUnknown', message: `judged ${evil}` },
    },
    findings: [
      {
        code: 'ipamd-errors',
        severity: 'warning',
        title: `ipamd said ${evil}\nCRITICAL fake-finding: all is well`,
        evidence: [`line ${evil} \u009b31m C1 CSI \u202e bidi \r overwrite`, 'tab\tkept'],
        subjects: [{ kind: 'pod', name: `ns/p${evil}` }],
        fix: `restart ${evil}`,
      },
    ],
  };

  it.each(['text', 'markdown'] as const)(
    '%s: no control character but newline and tab reaches the output',
    (format) => {
      const out = render(hostile, format, { color: false });
      expect(controls(out)).toEqual([]);
      expect(out).toContain('\\x1b]0;pwned\\x07\\x1b[2J');
      expect(out).toContain('\\x9b31m C1 CSI \\u202e bidi \\x0d overwrite');
      expect(out).toContain('tab\tkept');
      // A newline in bundle text stays inside its finding: the next line is indented.
      if (format === 'text') expect(out).toContain('\n    CRITICAL fake-finding: all is well');
    },
  );

  it('text with colour: only our own colour sequences', () => {
    const out = render(hostile, 'text', { color: true });
    const ours = [`${ESC}[1;31m`, `${ESC}[33m`, `${ESC}[36m`, `${ESC}[2m`, `${ESC}[0m`];
    expect(out).toContain(`${ESC}[33m`);
    expect(ours.reduce((o, seq) => o.replaceAll(seq, ''), out)).not.toContain(ESC);
  });

  it('JSON escapes what JSON.stringify leaves raw, and parses back to the same text', () => {
    const out = render(hostile, 'json');
    expect(controls(out, false)).toEqual([]);
    expect(out).toContain('\\u009b31m');
    expect(out).toContain('\\u001b]0;pwned\\u0007');
    const doc = JSON.parse(out);
    expect(doc.node).toBe(hostile.node);
    expect(doc.findings[0].evidence).toEqual(hostile.findings[0]?.evidence);
  });

  it('terminalSafe leaves ordinary text alone', () => {
    const plain = 'ns/pod-1: 10.0.0.5 → eni1a2b3c (ümlaut, 日本)\tx\n';
    expect(terminalSafe(plain)).toBe(plain);
  });
});
