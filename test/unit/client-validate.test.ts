import { describe, expect, it } from 'vitest';
import { checkFrontmatter, isCheckedMemoryFile, parseFrontmatter } from '../../src/validate/frontmatter.js';
import { checkPushUrl, mainUpdates, parsePrePushInput } from '../../src/validate/push.js';
import { parseLsTree, type BlobReader, type TreeEntry } from '../../src/git/tree.js';
import { checkEncoding, validateUpdate } from '../../src/validate/tree.js';
import { SERVER_PROFILE } from '../../src/validate/profile.js';

const Z = '0'.repeat(40);
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const ok = (body = 'v\n', extra = '') => `---\ndescription: d\n${extra}---\n${body}`;

describe('pre-push input', () => {
  it('parses stdin and keeps only updates to main that carry a tree', () => {
    const u = parsePrePushInput(`refs/heads/main ${A} refs/heads/main ${B}\nrefs/heads/x ${A} refs/heads/letta/reflection/1 ${Z}\n(delete) ${Z} refs/heads/main ${B}\n\n`);
    expect(u).toHaveLength(3);
    expect(mainUpdates(u)).toEqual([{ localRef: 'refs/heads/main', localOid: A, remoteRef: 'refs/heads/main', remoteOid: B }]);
  });

  it('refuses Letta /v1/git/ push URLs only, without printing credentials', () => {
    const p = checkPushUrl('https://u:secret@letta.example/v1/git/agent-123e4567-e89b-42d3-a456-426614174000/state.git');
    expect(p?.message).toMatch(/Letta \/v1\/git\/ proxy/);
    expect(JSON.stringify(p)).not.toContain('secret');
    expect(checkPushUrl('https://git.example.com/agents/agent-123e4567-e89b-42d3-a456-426614174000.git')).toBeUndefined();
  });
});

describe('encoding', () => {
  it('accepts UTF-8 text and refuses NUL bytes and invalid UTF-8', () => {
    expect(checkEncoding('a.md', Buffer.from('héllo ✓\n'))).toBeUndefined();
    expect(checkEncoding('a.png', Buffer.from([0x89, 0x50, 0x00]))?.message).toMatch(/binary/);
    expect(checkEncoding('a.txt', Buffer.from([0x63, 0xe9, 0x0a]))?.message).toMatch(/not valid UTF-8/);
  });
});

describe('frontmatter as the server parses it', () => {
  it('needs ---\\n, a closing \\n---\\n and a YAML mapping', () => {
    expect(parseFrontmatter(ok())).toEqual({ ok: true, data: { description: 'd' } });
    expect(parseFrontmatter('---\r\ndescription: d\r\n---\r\nbody')).toMatchObject({ ok: true });
    expect(parseFrontmatter('body only')).toMatchObject({ ok: false, message: expect.stringMatching(/no frontmatter/) });
    expect(parseFrontmatter('---\ndescription: d\nbody')).toMatchObject({ ok: false, message: expect.stringMatching(/never closed/) });
    expect(parseFrontmatter('---\ndescription: d\n---')).toMatchObject({ ok: false, message: expect.stringMatching(/no newline after/) });
    expect(parseFrontmatter('---\n- a\n- b\n---\nx')).toMatchObject({ ok: false, message: expect.stringMatching(/not a YAML mapping/) });
    expect(parseFrontmatter('---\ndescription: "open\n---\nx')).toMatchObject({ ok: false, message: expect.stringMatching(/not valid YAML/) });
  });

  it('checks system/ and reference/ markdown only, with or without the memory/ prefix', () => {
    for (const p of ['system/a.md', 'system/x/y.md', 'reference/r.md', 'memory/system/a.md']) expect(isCheckedMemoryFile(p)).toBe(true);
    for (const p of ['skills/s/SKILL.md', 'notes.md', 'system/a.txt', 'xsystem/a.md']) expect(isCheckedMemoryFile(p)).toBe(false);
  });

  it('requires a non-empty description and known keys, accepting metadata and limit', () => {
    expect(checkFrontmatter('system/a.md', ok('v', 'limit: 5000\nmetadata:\n  k: v\n'), null)).toEqual([]);
    expect(checkFrontmatter('system/a.md', '---\nlimit: 1\n---\nv', null)[0].message).toMatch(/no description/);
    expect(checkFrontmatter('system/a.md', '---\ndescription: "  "\n---\nv', null)[0].message).toMatch(/non-empty/);
    expect(checkFrontmatter('system/a.md', ok('v', 'colour: red\n'), null)[0].message).toMatch(/unknown frontmatter key "colour"/);
    // A server-written `description: null` may stay when the value is edited, but not appear anew.
    const serverNull = '---\ndescription: null\nlimit: 5000\n---\nold';
    expect(checkFrontmatter('system/a.md', serverNull.replace('old', 'new'), serverNull)).toEqual([]);
    expect(checkFrontmatter('system/a.md', serverNull, ok())[0].message).toMatch(/no description/);
    expect(checkFrontmatter('system/a.md', serverNull, null)[0].message).toMatch(/no description/);
  });

  it('guards read_only: no edits of a read-only file, no adding, changing or removing it', () => {
    const ro = ok('v\n', 'read_only: true\n');
    expect(checkFrontmatter('system/a.md', ro, ro)).toEqual([]);
    expect(checkFrontmatter('system/a.md', ro.replace(/\n/g, '\r\n'), ro)).toEqual([]);
    expect(checkFrontmatter('system/a.md', ro.replace('v\n', 'w\n'), ro)[0].message).toMatch(/cannot be edited/);
    expect(checkFrontmatter('system/a.md', ok('v\n'), ro)[0].message).toMatch(/cannot be edited/);
    expect(checkFrontmatter('system/a.md', ro, ok())[0].message).toMatch(/cannot be added/);
    expect(checkFrontmatter('system/a.md', ro, null)[0].message).toMatch(/cannot be set on a new file/);
    expect(checkFrontmatter('system/a.md', ok('v', 'read_only: false\n'), ok('v', 'read_only: false\n'))).toEqual([]);
    expect(checkFrontmatter('system/a.md', ok('v'), ok('v', 'read_only: false\n'))[0].message).toMatch(/cannot be removed/);
    // A new branch on the remote: nothing to compare against.
    expect(checkFrontmatter('system/a.md', ro, undefined)).toEqual([]);
  });
});

describe('whole pushed tree', () => {
  const entry = (path: string, oid: string, type = 'blob'): TreeEntry => ({ mode: type === 'commit' ? '160000' : '100644', type, oid, path });

  it('parses ls-tree -z output, paths with spaces and tabs intact', () => {
    expect(parseLsTree(Buffer.from(`100644 blob ${A}\tsystem/a b.md\u0000160000 commit ${B}\tsub\u0000`))).toEqual([entry('system/a b.md', A), entry('sub', B, 'commit')]);
  });

  it('asks sizes first, then reads each needed blob once: never an oversized one, the base only of changed memory files', async () => {
    const tree = [entry('system/a.md', '1'), entry('notes.txt', '2'), entry('system/b.md', '3'), entry('dup.txt', '2'), entry('big.txt', '5')];
    const base = [entry('system/a.md', '9'), entry('notes.txt', '8'), entry('system/b.md', '3')];
    const asked: string[][] = [];
    const reader: BlobReader = {
      sizes: async (oids) => new Map(oids.map((o) => [o, o === '5' ? 101 : 4])),
      read: async (oids) => (asked.push([...oids]), new Map(oids.map((o) => [o, Buffer.from(ok())]))),
    };
    const problems = await validateUpdate({ tree, base }, reader, SERVER_PROFILE, 100);
    expect(asked.map((a) => [...a].sort())).toEqual([['1', '2', '3', '9']]);
    expect(problems.map((p) => `${p.path}: ${p.message}`)).toEqual(['big.txt: is 101 bytes, over the 100 bytes limit for a file in a memory repo']);
  });

  it('checks encoding everywhere but frontmatter only where the file changed', async () => {
    const blobs = new Map<string, Uint8Array>([
      ['1', Buffer.from('no frontmatter, unchanged')],
      ['2', Buffer.from('no frontmatter, new')],
      ['3', Buffer.from([0, 1, 2])],
      ['4', Buffer.from(ok())],
    ]);
    const reader: BlobReader = {
      sizes: async (oids) => new Map(oids.filter((o) => blobs.has(o)).map((o) => [o, blobs.get(o)!.length])),
      read: async (oids) => new Map(oids.map((o) => [o, blobs.get(o)!])),
    };
    const tree = [entry('system/old.md', '1'), entry('system/new.md', '2'), entry('img.bin', '3'), entry('reference/r.md', '4'), entry('vendor', 'c', 'commit')];
    const base = [entry('system/old.md', '1')];
    const problems = (await validateUpdate({ tree, base }, reader)).map((p) => `${p.path}: ${p.message}`);
    expect(problems).toEqual([
      'vendor: is a submodule; the Letta server cannot read it',
      'system/new.md: has no frontmatter (the file must start with a --- line)',
      'img.bin: is a binary file (contains NUL bytes); the Letta server cannot sync binary files',
    ]);
  });
});
