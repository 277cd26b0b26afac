/**
 * Issue 24 item 3: one definition of a valid UTF-8 name (isUtf8Name, src/validate/text.ts), on names as git hands
 * them over (bytes, decoded by decodeName): astral characters are valid, ZWJ emoji sequences get the zero-width
 * message the README documents, and lone surrogates (encoded as bytes or in a string) are not UTF-8.
 */
import { describe, expect, it } from 'vitest';
import { decodeName } from '../../src/git/tree.js';
import { checkEntry } from '../../src/validate/names.js';
import { isUtf8Name } from '../../src/validate/text.js';

const entry = (bytes: Buffer) => checkEntry(decodeName(bytes), '100644')?.message;

describe('valid UTF-8 names', () => {
  it.each([
    ['an emoji (astral, a surrogate pair in JS)', 'journal/💻 setup.md'],
    ['a CJK astral ideograph', 'notes/𠀋.md'],
    ['a flag (two regional indicators)', 'trips/🇯🇵.md'],
    ['a skin-tone modifier', 'people/👍🏽.md'],
    ['accented Latin and Greek', 'café/λόγος.md'],
  ])('%s is accepted', (_, name) => {
    expect(isUtf8Name(decodeName(Buffer.from(name)))).toBe(true);
    expect(entry(Buffer.from(name))).toBeUndefined();
  });

  it('a ZWJ sequence (👩‍💻) is valid UTF-8 but refused for its zero-width joiner, with that message', () => {
    const name = 'journal/👩‍💻.md';
    expect(isUtf8Name(decodeName(Buffer.from(name)))).toBe(true);
    expect(entry(Buffer.from(name))).toMatch(/control or invisible characters .*zero-width/);
  });

  it.each([
    ['a UTF-8-encoded lone high surrogate (CESU)', Buffer.from([0x61, 0xed, 0xa0, 0xbd, 0x2e, 0x6d, 0x64])],
    ['a UTF-8-encoded lone low surrogate', Buffer.from([0x61, 0xed, 0xb2, 0xbb, 0x2e, 0x6d, 0x64])],
    ['an emoji as a CESU-8 surrogate pair', Buffer.from([0xed, 0xa0, 0xbd, 0xed, 0xb2, 0xbb])],
    ['a Latin-1 byte', Buffer.from([0x63, 0x61, 0x66, 0xe9])],
    ['a truncated 4-byte sequence', Buffer.from([0xf0, 0x9f, 0x92])],
  ])('%s is not valid UTF-8', (_, bytes) => {
    expect(isUtf8Name(decodeName(bytes))).toBe(false);
    expect(entry(bytes)).toMatch(/not valid UTF-8/);
  });

  it('a string holding an unpaired surrogate has no UTF-8 form', () => {
    expect(isUtf8Name('a\ud83d.md')).toBe(false);
    expect(isUtf8Name('a\udcbb.md')).toBe(false);
    expect(isUtf8Name('a\ud83d\udcbb.md')).toBe(true);
    expect(checkEntry('a\ud83d.md', '100644')?.message).toMatch(/not valid UTF-8/);
  });

  it('name length counts an astral character as its 4 bytes and an escaped invalid byte as 1', () => {
    const emoji = '💻'.repeat(63); // 252 bytes
    expect(entry(Buffer.from(`${emoji}.md`))).toBeUndefined(); // 255
    expect(entry(Buffer.from(`${emoji}.mdx`))).toMatch(/longer than 255 bytes/); // 256
    expect(entry(Buffer.concat([Buffer.from(`${emoji}.m`), Buffer.from([0xe9])]))).toMatch(/not valid UTF-8/);
  });
});
