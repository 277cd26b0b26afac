// Fixed inputs for the Letta Code profile where the differential oracle (test/oracle) once disagreed with it.
import { describe, expect, it } from 'vitest';
import { checkLettaCodeTree, type CodeFile, similarity } from '../../src/validate/letta-code-rules.js';

const blobs: Record<string, string> = {
  a1: '# Memory\n',
  b2: 'no frontmatter here\n',
  c3: '---\ndescription: d\n---\nbody\n',
  d4: '---\ndescription: d\nread_only: true\n---\nmore\n',
  e5: '---\ndescription: d\nread_only: true\n---\n',
  f6: '---\nname: a\ndescription: b\n---\n',
  g7: '---\r\nname: a\r\ndescription: b\r\n---\r\n',
};
const file = (path: string, oid: string): CodeFile => ({ path, mode: '100644', oid });
const tree = (files: CodeFile[], base: CodeFile[]) => ({ files, base, text: (oid: string) => blobs[oid] });

describe('legacy-only layout', () => {
  it('a memory file moved unchanged is not checked, as the pre-commit (diff --cached --diff-filter=ACM) drops renames', () => {
    // LMH_ORACLE_SEED=35344, case 637: system/MEMORY.md without frontmatter arrived by a move.
    const moved = tree([file('system/MEMORY.md', 'a1')], [file('notes/MEMORY.md', 'a1')]);
    expect(checkLettaCodeTree(moved, 'legacy-only')).toEqual([]);
  });

  it('the same file added (not moved), or moved while its old path stays, is checked', () => {
    expect(checkLettaCodeTree(tree([file('system/MEMORY.md', 'a1')], []), 'legacy-only').map((p) => p.path)).toEqual(['system/MEMORY.md']);
    const copied = tree([file('notes/x.md', 'b2'), file('system/x.md', 'b2')], [file('notes/x.md', 'b2')]);
    expect(checkLettaCodeTree(copied, 'legacy-only').map((p) => p.path)).toEqual(['system/x.md']);
  });

  it('a file moved and edited but still at least 50 % similar is a rename to git, so not checked either', () => {
    // LMH_ORACLE_SEED=717887, case 119: a new file setting read_only, moved from a removed one git pairs it with.
    const moved = tree([file('system/style.md', 'e5')], [file('system/p.md', 'd4')]);
    expect(checkLettaCodeTree(moved, 'legacy-only')).toEqual([]);
    expect(checkLettaCodeTree(tree([file('system/style.md', 'e5')], [file('system/p.md', 'd4'), file('system/style.x', 'a1')]), 'legacy-only')).toEqual([]);
    expect(checkLettaCodeTree(tree([file('system/style.md', 'e5')], []), 'legacy-only').map((p) => p.path)).toEqual(['system/style.md']);
  });

  it('one removed file pairs with one added file only: the other copy is checked', () => {
    // LMH_ORACLE_SEED=717887, case 354 (400 trees): git pairs MEMORY.md with a/b/MEMORY.md, not with both.
    const two = tree([file('a/b/MEMORY.md', 'a1'), file('memory/system/MEMORY.md', 'a1')], [file('MEMORY.md', 'a1')]);
    expect(checkLettaCodeTree(two, 'legacy-only').map((p) => p.path)).toEqual(['memory/system/MEMORY.md']);
  });

  it('a CRLF copy of a removed LF file is a rename to git (its similarity does not count a CR before LF)', () => {
    // LMH_ORACLE_SEED=572404, legacy-only case 332: reference/people.md with CRLF frontmatter, paired with a removed file.
    const moved = tree([file('reference/people.md', 'g7')], [file('system/setup.md', 'f6')]);
    expect(checkLettaCodeTree(moved, 'legacy-only')).toEqual([]);
    expect(similarity(blobs.f6, blobs.g7)).toBe(1 - 4 / blobs.g7.length);
    expect(checkLettaCodeTree(tree([file('reference/people.md', 'g7')], []), 'legacy-only').map((p) => p.path)).toEqual(['reference/people.md']);
  });

  it('a moved file that is also edited beyond recognition is checked', () => {
    const edited = tree([file('system/x.md', 'b2')], [file('notes/x.md', 'c3')]);
    expect(checkLettaCodeTree(edited, 'legacy-only').map((p) => p.path)).toEqual(['system/x.md']);
  });
});
