// ObjectReader.lsTree (src/git/objects.ts, src/git/tree.ts) reads trees through `git cat-file --batch-command` in place of
// `git ls-tree -r`; it must list exactly what ls-tree lists (paths as bytes, canonical modes, git's order) and refuse
// exactly what ls-tree refuses, with git's message. Checked against real git on raw tree objects written with
// `git hash-object --literally`, which stores what `git add` and `git mktree` never would.
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ObjectReader } from '../../src/git/objects.js';
import { MalformedTree } from '../../src/git/tree.js';
import { parseLsTree } from '../../src/git/tree.js';
import { mulberry32 } from '../helpers/prng.js';
import { sh, tempDir } from '../helpers/repo.js';

const ws = tempDir('lmh-git-tree-');
afterAll(() => ws.cleanup());

type Algo = 'sha1' | 'sha256';

function repo(name: string, algo: Algo): string {
  const dir = path.join(ws.dir, name);
  fs.mkdirSync(dir);
  sh(dir, ['init', '-q', `--object-format=${algo}`]);
  return dir;
}

const oidOf = (algo: Algo, t: Buffer) => createHash(algo).update(Buffer.concat([Buffer.from(`tree ${t.length}\0`), t])).digest('hex');

/** Writes raw tree objects in one git call (oids computed here, checked against git's), returns their oids. */
function writeTrees(dir: string, algo: Algo, trees: Buffer[]): string[] {
  const files = trees.map((t, i) => {
    const f = path.join(dir, `.tree-${i}`);
    fs.writeFileSync(f, t);
    return f;
  });
  const oids = execFileSync('git', ['hash-object', '-t', 'tree', '--literally', '-w', '--stdin-paths'], { cwd: dir, input: files.join('\n') + '\n', encoding: 'utf8' }).trim().split('\n');
  trees.forEach((t, i) => expect(oids[i]).toBe(oidOf(algo, t)));
  for (const f of files) fs.rmSync(f);
  return oids;
}

const entry = (mode: string, name: Buffer, oid: string) => Buffer.concat([Buffer.from(`${mode} `), name, Buffer.from([0]), Buffer.from(oid, 'hex')]);

/** A random nested tree: odd but valid modes, names of any bytes but NUL and '/', duplicates, any order. */
function randomTrees(seed: number, algo: Algo): { trees: Buffer[]; root: string } {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
  const hashHex = algo === 'sha1' ? 40 : 64;
  const randomOid = () => Array.from({ length: hashHex }, () => pick('0123456789abcdef'.split(''))).join('');
  const randomName = () => {
    const len = 1 + Math.floor(rnd() * 6);
    const bytes = Array.from({ length: len }, () => pick([0x61, 0x62, 0x2e, 0x20, 0x09, 0x0a, 0x5c, 0x7f, 0xc3, 0xa9, 0xff, 0xe2, 0x80, 0x1b, 0x2d]));
    return Buffer.from(bytes);
  };
  const trees: Buffer[] = [];
  const build = (depth: number): string => {
    const parts: Buffer[] = [];
    const n = Math.floor(rnd() * 5) + (depth === 0 ? 1 : 0);
    for (let i = 0; i < n; i++) {
      const name = rnd() < 0.1 && parts.length ? Buffer.from('dup') : randomName();
      if (depth < 3 && rnd() < 0.35) parts.push(entry(pick(['40000', '040000', '40755']), name, build(depth + 1)));
      else parts.push(entry(pick(['100644', '100755', '100664', '100600', '0100644', '644', '120000', '160000', '170000', '20000']), name, randomOid()));
    }
    const t = Buffer.concat(parts);
    trees.push(t);
    return oidOf(algo, t);
  };
  const root = build(0);
  return { trees, root };
}

function gitLsTree(dir: string, rev: string): { entries?: ReturnType<typeof parseLsTree>; error?: string } {
  const r = spawnSync('git', ['ls-tree', '-r', '-z', '--full-tree', rev], { cwd: dir });
  if (r.status !== 0) return { error: r.stderr.toString().trim().split('\n').pop()!.replace(/^fatal: /, '') };
  return { entries: parseLsTree(r.stdout) };
}

async function ours(dir: string, rev: string): Promise<{ entries?: ReturnType<typeof parseLsTree>; error?: string }> {
  const reader = new ObjectReader(1024, { cwd: dir });
  try {
    return { entries: await reader.lsTree(rev) };
  } catch (err) {
    if (!(err instanceof MalformedTree)) throw err;
    return { error: err.message };
  } finally {
    await reader.close();
  }
}

describe('ObjectReader.lsTree lists what git ls-tree -r lists', () => {
  for (const algo of ['sha1', 'sha256'] as const) {
    it(`random trees (${algo})`, async () => {
      const dir = repo(`random-${algo}`, algo);
      const roots: string[] = [];
      const all: Buffer[] = [];
      for (let seed = 1; seed <= 40; seed++) {
        const { trees, root } = randomTrees(seed, algo);
        all.push(...trees);
        roots.push(root);
      }
      writeTrees(dir, algo, all);
      for (const root of roots) {
        const commit = sh(dir, ['commit-tree', root, '-m', 'x']);
        const expected = gitLsTree(dir, commit);
        expect(expected.entries, expected.error).toBeDefined();
        expect(await ours(dir, commit)).toEqual(expected);
      }
    });
  }

  it("refuses the trees git refuses, with git's message", async () => {
    const dir = repo('malformed', 'sha1');
    const blob = 'e69de29bb2d1d6434b8b29ae4ac6d5b9a7e6b3ad';
    const ok = entry('100644', Buffer.from('ok.md'), blob);
    const cases = [
      entry('100644', Buffer.alloc(0), blob), // empty filename
      Buffer.concat([ok, entry('10064x', Buffer.from('m'), blob)]), // malformed mode
      Buffer.concat([ok, Buffer.from('100644 nonul'), Buffer.from(blob, 'hex')]), // no NUL after the name
      ok.subarray(0, ok.length - 3), // oid cut short
      Buffer.concat([ok, Buffer.from('100644 a\0short')]),
      Buffer.from('100644'),
      Buffer.concat([ok, entry('', Buffer.from('nomode'), blob)]),
    ];
    const oids = writeTrees(dir, 'sha1', cases);
    for (const tree of oids) {
      const commit = sh(dir, ['commit-tree', tree, '-m', 'x']);
      const expected = gitLsTree(dir, commit);
      expect(expected.error, tree).toMatch(/^(empty filename|malformed mode|too-short)/);
      expect(await ours(dir, commit)).toEqual(expected);
    }
    // A subtree entry that names a blob: git cannot read it as a tree (its message is not one we can match).
    const [sub] = writeTrees(dir, 'sha1', [entry('40000', Buffer.from('system'), blob)]);
    const commit = sh(dir, ['commit-tree', sub, '-m', 'x']);
    expect(gitLsTree(dir, commit).error).toMatch(/Could not read/);
    expect(await ours(dir, commit)).toEqual({ error: `not a tree object: ${blob}` });
  });
});
