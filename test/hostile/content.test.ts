// Hostile git content (issue 7, class 8): crafted trees pushed with real `git push` through the installed pre-push
// hook, as Letta Code pushes. Each case: git exits non-zero, our stderr has exactly one line per problem, each naming
// the file (escaped: no raw control character ever reaches the terminal) and the fix, no stack trace, and the
// external host's refs are unchanged.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT, cli, gitOk, initCheckout, lettaGit, makeCheckout, md, requireBuild, sandbox, type Sandbox } from '../client/env.js';
import { startGitHost, type GitHost } from '../fixtures/git-host.js';
import { tempDir } from '../helpers/repo.js';
import { expectNoStack } from './harness.js';
import { commitTree, hashBigBlob, hashBlob, type Item, mkTree, type Name } from './trees.js';

const USER = 'memfs-bot';
const TOKEN = 'content-token-7d1e';
const PREFIX = 'letta-memfs-hooks: push refused: ';

const SEED: Record<string, string> = {
  'system/human.md': md('About the human', 'Ada\n'),
  'reference/notes.md': md('Notes', 'n\n'),
};
const seedItems: Item[] = Object.entries(SEED).map(([p, content]) => ({ path: p.split('/'), content }));

let host: GitHost;
let sb: Sandbox;
let checkout: string;
let repoName: string;
let base: string;
const ws = tempDir('lmh-hostile-content-');

beforeAll(async () => {
  requireBuild();
  host = await startGitHost({ user: USER, token: TOKEN });
  sb = sandbox(ws.dir, { LETTA_MEMFS_GIT_TOKEN: TOKEN });
  repoName = `h/${AGENT}.git`;
  const url = await host.createRepo(repoName, { files: SEED });
  checkout = makeCheckout(sb, path.join(ws.dir, 'memory'));
  const r = initCheckout(sb, checkout, USER, url.replace(AGENT, '{agentId}'));
  expect(r.status, r.stderr).toBe(0);
  expect(lettaGit(sb, checkout, ['pull', '-q', '--ff-only', 'origin', 'main']).status).toBe(0);
  base = gitOk(sb, checkout, ['rev-parse', 'refs/remotes/origin/main']);
}, 60_000);

afterAll(async () => {
  await host?.close();
  ws.cleanup();
});

const hostRefs = () => host.git(repoName, ['for-each-ref', '--format=%(refname) %(objectname)']);

/**
 * Commits the seed plus `extra` as the checkout's main and pushes it like Letta Code. Asserts the refusal and returns
 * our stderr lines (the "N problems" header dropped); main is put back on the remote's commit afterwards.
 */
function pushRefused(extra: Item[], seed: Item[] = seedItems): string[] {
  const before = hostRefs();
  commitTree(sb, checkout, mkTree(sb, checkout, [...seed, ...extra]), base);
  try {
    const r = lettaGit(sb, checkout, ['push', 'origin', 'main']);
    expect(r.status, r.stderr).not.toBe(0);
    expectNoStack(r.stderr);
    // Nothing unprintable reaches the terminal: no ESC, BEL, CR, C1 control, bidi override or invalid byte.
    expect(r.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2028\u2029\ufeff\ufffd]/);
    const ours = r.stderr.split('\n').filter((l) => l.startsWith(PREFIX));
    expect(ours.length, r.stderr).toBeGreaterThan(0);
    for (const l of ours) if (!/^\S+ push refused: \d+ problems$/.test(l)) expect(l, r.stderr).toMatch(/ \(fix: .+\)$/);
    expect(hostRefs()).toBe(before);
    return ours.filter((l) => !/push refused: \d+ problems$/.test(l)).map((l) => l.slice(PREFIX.length));
  } finally {
    gitOk(sb, checkout, ['update-ref', 'refs/heads/main', base]);
    // A push that got through (the code before this fix) must not turn every later case into a non-fast-forward.
    host.git(repoName, ['update-ref', 'refs/heads/main', base]);
  }
}

/** One problem, for the file shown as `shown`, matching `why`. */
function expectOne(extra: Item[], shown: string, why: RegExp): string {
  const lines = pushRefused(extra);
  expect(lines).toHaveLength(1);
  expect(lines[0].startsWith(`${shown}: `), lines[0]).toBe(true);
  expect(lines[0]).toMatch(why);
  return lines[0];
}

const file = (...p: Name[]): Item => ({ path: p, content: 'x\n' });

describe('tree entries that would break a checkout or reach into .git', () => {
  const gitDir = /inside a "\.git" directory/;
  const dots = /"\." or "\.\." path component/;
  it.each([
    ['..', [file('..', 'escape.md')], '../escape.md', dots],
    ['.', [file('.', 'here.md')], './here.md', dots],
    ['.. nested', [file('system', '..', '..', 'up.md')], 'system/../../up.md', dots],
    ['.git', [file('.git', 'config')], '.git/config', gitDir],
    ['.GIT', [file('.GIT', 'config')], '.GIT/config', gitDir],
    ['.Git', [file('.Git', 'hooks', 'post-checkout')], '.Git/hooks/post-checkout', gitDir],
    ['.git as a file', [file('.git')], '.git', gitDir],
    ['nested .git', [file('system', '.git', 'config')], 'system/.git/config', gitDir],
    ['.git. (NTFS trailing dot)', [file('.git.', 'config')], '.git./config', gitDir],
    ['".git " (NTFS trailing space)', [file('.git ', 'config')], "'.git /config'", gitDir],
    ['git~1 (NTFS short name)', [file('git~1', 'config')], 'git~1/config', gitDir],
    ['GIT~1', [file('GIT~1', 'config')], 'GIT~1/config', gitDir],
    ['.git::$INDEX_ALLOCATION (NTFS stream)', [file('.git::$INDEX_ALLOCATION', 'config')], "'.git::$INDEX_ALLOCATION/config'", gitDir],
    ['empty name (git cannot list the tree)', [file('system', '', 'x.md')], 'refs/heads/main', /malformed tree that git cannot list \(empty filename/],
  ])('%s', (_n, extra, shown, why) => {
    expectOne(extra as Item[], shown as string, why as RegExp);
  });

  // HFS+ ignores these code points, so each name is `.git` on macOS; shown with the code point escaped.
  it.each([
    ['.git\u200c', "$'.git\\u200c/config'"],
    ['.g\u200dit', "$'.g\\u200dit/config'"],
    ['.git\ufeff', "$'.git\\ufeff/config'"],
    ['\u206a.git', "$'\\u206a.git/config'"],
  ])('HFS+ variant %j', (name, shown) => {
    expectOne([file(name, 'config')], shown, /control or invisible|inside a "\.git"/);
  });
});

describe('names a terminal or another OS would act on', () => {
  const ctl = /control or invisible characters/;
  it.each([
    ['newline', 'a\nb.md', "$'a\\nb.md'", ctl],
    ['carriage return', 'ok.md\revil.md', "$'ok.md\\revil.md'", ctl],
    ['tab', 'a\tb.md', "$'a\\tb.md'", ctl],
    ['ANSI colour escape', '\u001b[31mred\u001b[0m.md', "$'\\x1b[31mred\\x1b[0m.md'", ctl],
    ['OSC title escape with BEL', '\u001b]0;pwned\u0007.md', "$'\\x1b]0;pwned\\x07.md'", ctl],
    ['C1 CSI', 'a\u009b31mb.md', "$'a\\u009b31mb.md'", ctl],
    ['DEL', 'a\u007fb.md', "$'a\\x7fb.md'", ctl],
    ['bidi override', '\u202egnp.md', "$'\\u202egnp.md'", ctl],
    ['zero-width space', 'a\u200bb.md', "$'a\\u200bb.md'", ctl],
    ['line separator', 'a\u2028b.md', "$'a\\u2028b.md'", ctl],
    ['backslash', 'a\\b.md', "'a\\b.md'", /backslash/],
    ['backslash traversal', '..\\..\\evil.md', "'..\\..\\evil.md'", /backslash/],
    ['drive letter', 'C:evil.md', 'C:evil.md', /absolute Windows path/],
  ])('%s', (_n, name, shown, why) => {
    const line = expectOne([file(name)], shown, why);
    expect(line).toContain('git rm --cached -- ');
  });

  it('a name of 256 bytes', () => {
    expectOne([file('n'.repeat(256))], 'n'.repeat(256), /name longer than 255 bytes/);
  });

  it('a path of more than 1024 bytes', () => {
    const parts = Array.from({ length: 5 }, (_, i) => `${i}`.repeat(250));
    expectOne([file(...parts)], parts.join('/'), /path longer than 1024 bytes/);
  });

  it.each([
    ['Latin-1 byte', Buffer.from('caf\xe9.md', 'latin1'), "$'caf\\xe9.md'"],
    ['overlong UTF-8 for ".."', Buffer.from([0xc0, 0xae, 0xc0, 0xae]), "$'\\xc0\\xae\\xc0\\xae'"],
    ['UTF-8-encoded surrogate', Buffer.from([0x61, 0xed, 0xa0, 0x80]), "$'a\\xed\\xa0\\x80'"],
    ['truncated sequence', Buffer.from([0x61, 0xe2, 0x82]), "$'a\\xe2\\x82'"],
  ])('non-UTF-8 name: %s', (_n, name, shown) => {
    expectOne([file(name)], shown, /not valid UTF-8/);
  });
});

describe('entries that are not plain files', () => {
  it('a symlink out of the repo', () => {
    expectOne([{ path: ['passwd'], mode: '120000', content: '/etc/passwd' }], 'passwd', /symbolic link/);
  });

  it('a memory file replaced by a symlink into .git', () => {
    const seed = seedItems.filter((i) => i.path.join('/') !== 'system/human.md');
    const lines = pushRefused([{ path: ['system', 'human.md'], mode: '120000', content: '../.git/config' }], seed);
    expect(lines).toEqual([expect.stringMatching(/^system\/human\.md: is a symbolic link.*\(fix: replace it with a regular file \(git rm --cached -- system\/human\.md/)]);
  });

  it('a submodule whose name needs escaping', () => {
    expectOne([{ path: ['vendor lib'], mode: '160000', oid: 'a'.repeat(40) }], "'vendor lib'", /submodule.*git rm --cached -- 'vendor lib'/);
  });
});

describe('sizes and encodings', () => {
  it('a 105 MB file is refused by name with the cap, without reading it', async () => {
    const oid = await hashBigBlob(sb, checkout, 105 * 1000 * 1000);
    const line = expectOne([{ path: ['dump.txt'], oid }], 'dump.txt', /is 100\.1 MiB, over the 5\.0 MiB limit/);
    expect(line).toMatch(/\(fix: keep large files outside the memory repo \(git rm --cached -- dump\.txt/);
  });

  it('a file one byte over the cap', async () => {
    const oid = await hashBigBlob(sb, checkout, 5 * 1024 * 1024 + 1);
    expectOne([{ path: ['system', 'big.md'], oid }], 'system/big.md', /over the 5\.0 MiB limit/);
  });

  it('a memory file starting with a UTF-8 BOM', () => {
    const seed = seedItems.filter((i) => i.path.join('/') !== 'system/human.md');
    const lines = pushRefused([{ path: ['system', 'human.md'], content: `\ufeff${SEED['system/human.md']}` }], seed);
    expect(lines).toEqual([expect.stringMatching(/^system\/human\.md: starts with a UTF-8 byte order mark.*\(fix: save the file as UTF-8 without BOM\)$/)]);
  });

  it('a binary file whose name has a space and a quote is shown quoted for the shell', () => {
    expectOne([{ path: ["it's here.bin"], content: Buffer.from([0, 1, 2]) }], `'it'\\''s here.bin'`, /binary file.*git rm --cached -- 'it'\\''s here\.bin'/);
  });

  it('YAML errors quoting content never print its escape sequences', () => {
    const seed = seedItems.filter((i) => i.path.join('/') !== 'reference/notes.md');
    const lines = pushRefused([{ path: ['reference', 'notes.md'], content: '---\ndescription: "\u001b]0;x\u0007\n---\nbody\n' }], seed);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^reference\/notes\.md: frontmatter is not valid YAML/);
  });

  // Content edge cases refused before this change too (TextDecoder is fatal on them); kept so they stay refused.
  it.each([
    ['overlong UTF-8 in content', Buffer.from([0x61, 0xc0, 0xaf, 0x0a])],
    ['a lone surrogate in content (CESU-8)', Buffer.from([0x61, 0xed, 0xb0, 0x80, 0x0a])],
  ])('%s', (_n, content) => {
    expectOne([{ path: ['notes.txt'], content }], 'notes.txt', /not valid UTF-8/);
  });
});

describe('several problems at once', () => {
  it('one line per problem, after a count, each naming its file', () => {
    const lines = pushRefused([file('.git', 'config'), file('a\nb.md'), { path: ['l'], mode: '120000', content: '/' }, file('x\\y')]);
    expect(lines.map((l) => l.split(': ')[0]).sort()).toEqual(["$'a\\nb.md'", '.git/config', "'x\\y'", 'l'].sort());
  });

  it('a duplicated entry in one tree', () => {
    const blob = hashBlob(sb, checkout, 'x\n');
    const top = mkTree(sb, checkout, seedItems);
    // mktree sorts and dedupes, so the duplicate is written as a raw tree object.
    const raw = Buffer.concat([rawTree(top), rawEntry('100644', blob, 'dup.md'), rawEntry('100644', blob, 'dup.md')]);
    const tree = gitHashTree(raw);
    commitTree(sb, checkout, tree, base);
    const before = hostRefs();
    const r = lettaGit(sb, checkout, ['push', 'origin', 'main']);
    gitOk(sb, checkout, ['update-ref', 'refs/heads/main', base]);
    const after = hostRefs();
    host.git(repoName, ['update-ref', 'refs/heads/main', base]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/push refused: dup\.md: appears twice in the same tree.*\(fix: .+\)$/m);
    expect(after).toBe(before);
  });
});

describe('status prints paths escaped', () => {
  it('a checkout directory whose name holds an escape sequence', () => {
    const dir = path.join(ws.dir, 'evil\u001b]0;title\u0007dir');
    fs.cpSync(checkout, dir, { recursive: true });
    const r = cli(sb, ['status'], { cwd: dir });
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/[\u0007\u001b]/);
    expect(r.stdout).toContain("evil\\x1b]0;title\\x07dir");
  });
});

/** The bytes of an existing tree object (entries only). */
function rawTree(oid: string): Buffer {
  return execFileSync('git', ['cat-file', 'tree', oid], { cwd: checkout, env: sb.env });
}

function rawEntry(mode: string, oid: string, name: string): Buffer {
  return Buffer.concat([Buffer.from(`${mode} ${name}\0`), Buffer.from(oid, 'hex')]);
}

function gitHashTree(raw: Buffer): string {
  return execFileSync('git', ['hash-object', '-w', '-t', 'tree', '--literally', '--stdin'], { cwd: checkout, env: sb.env, input: raw }).toString().trim();
}
