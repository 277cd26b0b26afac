import { describe, expect, it } from 'vitest';
import { checkHttpRemote, headerScope } from '../../src/core/remote-scope.js';
import { decodeName } from '../../src/git/tree.js';
import { checkEntry, isGitDirName } from '../../src/validate/names.js';
import { escapePath } from '../../src/validate/text.js';

describe('repo path names', () => {
  it('decodes UTF-8, keeping each invalid byte as U+DCxx (overlong forms and surrogates included)', () => {
    expect(decodeName(Buffer.from('système/é✓𝄞.md'))).toBe('système/é✓𝄞.md');
    expect(decodeName(Buffer.from([0x63, 0xe9]))).toBe('c\udce9');
    expect(decodeName(Buffer.from([0xc0, 0xae]))).toBe('\udcc0\udcae');
    expect(decodeName(Buffer.from([0xed, 0xa0, 0x80]))).toBe('\udced\udca0\udc80');
    expect(decodeName(Buffer.from([0xf4, 0x90, 0x80, 0x80]))).toBe('\udcf4\udc90\udc80\udc80');
  });

  it('escapes for a terminal and a shell: raw when safe, quoted when printable, $\'...\' otherwise', () => {
    expect(escapePath('system/human.md')).toBe('system/human.md');
    expect(escapePath('système/é.md')).toBe('système/é.md');
    expect(escapePath("it's a b")).toBe(`'it'\\''s a b'`);
    expect(escapePath('-rf')).toBe("'-rf'");
    expect(escapePath('a\nb\u001b[0m\u202e\udce9')).toBe("$'a\\nb\\x1b[0m\\u202e\\xe9'");
  });

  it('takes every spelling file systems read as .git for .git', () => {
    for (const n of ['.git', '.GIT', '.git.', '.git. .', 'git~1', 'GIT~1', '.git::$INDEX_ALLOCATION', '.g\u200cit', '\ufeff.git']) expect(isGitDirName(n), n).toBe(true);
    for (const n of ['.gitignore', 'git', '.git2', 'git~2', '.github']) expect(isGitDirName(n), n).toBe(false);
  });

  it('accepts plain files and refuses links, submodules and bad names with one problem each', () => {
    expect(checkEntry('system/a.md', '100644')).toBeUndefined();
    expect(checkEntry('bin/run', '100755')).toBeUndefined();
    expect(checkEntry('l', '120000')?.message).toMatch(/symbolic link/);
    expect(checkEntry('a/../b', '100644')?.message).toMatch(/"\.\."/);
    expect(checkEntry('a\tb', '100644')?.fix).toContain("git rm --cached -- $'a\\tb'");
  });
});

describe('the Letta key guard scope', () => {
  it('is the host as written, user info dropped', () => {
    expect(headerScope('https://Git.Example.com:443/a/b.git')).toBe('https://Git.Example.com:443');
    expect(headerScope('http://git@0x7f.0.0.1/a.git')).toBe('http://0x7f.0.0.1');
    expect(headerScope('https://[0:0::1]:8443/a.git')).toBe('https://[0:0::1]:8443');
  });

  it('refuses spellings git cannot normalise, offering the canonical one', () => {
    expect(() => checkHttpRemote('https://127.1/a.git')).not.toThrow();
    expect(() => checkHttpRemote('https://bücher.example/a.git')).toThrow(expect.objectContaining({ fix: 'spell it https://xn--bcher-kva.example/a.git' }));
    expect(() => checkHttpRemote('https://h\\a.git')).toThrow(expect.objectContaining({ fix: 'spell it https://h/a.git' }));
  });
});
