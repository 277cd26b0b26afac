/**
 * The one way any repo path or repo-quoted text is printed: escaped so that no control, invisible or invalid byte
 * reaches a terminal, and pasteable into a shell.
 */
/**
 * The one definition of a valid UTF-8 name: a string with no unpaired surrogate. Names decoded from git
 * (git/tree.ts decodeName) carry each invalid byte as U+DC80..U+DCFF, and a string with any other unpaired surrogate
 * has no UTF-8 form at all; a surrogate pair (an astral character such as an emoji) is valid. The u flag matters.
 */
export function isUtf8Name(name: string): boolean {
  return !/\p{Cs}/u.test(name);
}

// Characters a terminal acts on or hides: C0/C1 controls and DEL, format characters (bidi overrides, zero-width
// joiners, BOM), line/paragraph separators, and the stand-ins for invalid bytes above.
export const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\udc80-\udcff]/u;
const SHELL_SAFE = /^[\p{L}\p{N}\p{M}_./+@,=:%~-]+$/u;

function escapeChar(ch: string): string {
  const cp = ch.codePointAt(0)!;
  if (cp >= 0xdc80 && cp <= 0xdcff) return `\\x${(cp & 0xff).toString(16).padStart(2, '0')}`;
  const named: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r', '\\': '\\\\', "'": "\\'" };
  if (named[ch]) return named[ch];
  if (cp < 0x80) return `\\x${cp.toString(16).padStart(2, '0')}`;
  return cp > 0xffff ? `\\U${cp.toString(16).padStart(8, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
}

/**
 * How every repo path is shown: as it is when it needs no quoting, in single quotes when it is printable, else as a
 * bash `$'...'` string with every control, invisible or invalid byte escaped. Never prints a raw control character,
 * and the result can be pasted into a shell (the fixes we print are commands).
 */
export function escapePath(p: string): string {
  if (p !== '' && SHELL_SAFE.test(p) && !p.startsWith('-') && !p.startsWith('~')) return p;
  if (!UNPRINTABLE.test(p)) return `'${p.replace(/'/g, `'\\''`)}'`;
  return `$'${Array.from(p, (ch) => (UNPRINTABLE.test(ch) || ch === '\\' || ch === "'" ? escapeChar(ch) : ch)).join('')}'`;
}

/** Free text (error messages that may quote repo content) with every unprintable character escaped. */
export function printable(text: string): string {
  return Array.from(text, (ch) => (UNPRINTABLE.test(ch) ? escapeChar(ch) : ch)).join('');
}
