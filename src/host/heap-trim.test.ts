import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { openHeapTrimmer } from './heap-trim.ts';

describe('openHeapTrimmer', () => {
  // This machine's Node.js (the project's own, 26) is glibc-linked and has node:ffi, as the image's.
  it('resolves malloc_trim through node:ffi and calls it, printing no ExperimentalWarning', () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w.name);
    };
    process.on('warning', onWarning);
    try {
      const opened = openHeapTrimmer();
      if (!opened.ok) throw new Error(opened.reason);
      expect(typeof opened.trimmer.trim()).toBe('boolean');
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
  });

  it('says why when node:ffi is off, and throws nothing', () => {
    const out = execFileSync(
      process.execPath,
      [
        '--no-experimental-ffi',
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(new URL('./heap-trim.ts', import.meta.url).href)});
         process.stdout.write(JSON.stringify(m.openHeapTrimmer()));`,
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(JSON.parse(out)).toEqual({
      ok: false,
      reason: 'this Node.js has no node:ffi (or it was started with --no-experimental-ffi)',
    });
  });
});
