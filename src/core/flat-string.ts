/**
 * A string as one flat copy. V8 represents the result of `+`, a template or `slice` as a rope of the
 * pieces (cons strings) or a view into its parent (sliced strings, from 13 characters): a 25-byte
 * chain name cut out of a 64 KB chunk of `iptables-save` output keeps the whole chunk alive. Values
 * kept by the thousand (parsed rule state, computed chain names) are copied flat with this.
 */
export function flatString(s: string): string {
  if (s.length < 13) return s; // V8 copies short substrings and joins short strings flat anyway
  if (s.length > CHUNK) {
    // Spreading a long string's codes would overflow the call stack: copy it piece by piece.
    const parts: string[] = [];
    for (let i = 0; i < s.length; i += CHUNK) parts.push(flatString(s.slice(i, i + CHUNK)));
    return parts.join('');
  }
  const codes = new Array<number>(s.length);
  for (let i = 0; i < s.length; i++) codes[i] = s.charCodeAt(i);
  return String.fromCharCode(...codes);
}

const CHUNK = 4096;
