import { describe, expect, it } from 'vitest';
import { assertAscii } from './image.ts';

describe('assertAscii', () => {
  it('passes an ASCII bundle and names the entry, byte and context of the first other character', () => {
    expect(() => assertAscii('src/cli/main.ts', Buffer.from('const r = /a\\u2013b/;\n'))).not.toThrow();
    expect(() => assertAscii('src/cli/main.ts', Buffer.from('const r = /a–b/;\n'))).toThrow(
      /src\/cli\/main\.ts: the bundle has a non-ASCII character at byte 12 \("const r = \/a–b\/;\\n"\)/,
    );
  });
});
