/**
 * docs/doctor.md is the contract operators read: every finding code the code can raise has a row in
 * its "Finding codes" table, and the table names no code that does not exist.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FINDING_CODES } from './findings.ts';

const doc = readFileSync(new URL('../../docs/doctor.md', import.meta.url), 'utf8');
const section = doc.slice(
  doc.indexOf('## Finding codes'),
  doc.indexOf('\n## ', doc.indexOf('## Finding codes') + 3),
);
const documented = [...section.matchAll(/^\| `([a-z0-9-]+)` \| (critical|warning|info)/gm)].map((m) => m[1]);

describe('docs/doctor.md finding codes', () => {
  it('has a row for every FindingCode', () => {
    expect(FINDING_CODES.filter((c) => !documented.includes(c))).toEqual([]);
  });
  it('documents no code that does not exist, and none twice', () => {
    expect(documented.filter((c) => !(FINDING_CODES as readonly string[]).includes(c ?? ''))).toEqual([]);
    expect(new Set(documented).size).toBe(documented.length);
  });
});
