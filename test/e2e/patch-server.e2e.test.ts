// `letta-memfs-hooks patch-server` against the real installed wheel of LETTA_VERSION (copies of its letta/).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { CLI } from './helpers/cli.js';
import { lettaVersion } from './helpers/env.js';

const version = lettaVersion();
const scratch: string[] = [];

function cli(...args: string[]) {
  const r = spawnSync('node', [CLI, 'patch-server', ...args], { encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** A fresh copy of what pip put in site-packages for letta: letta/ and its dist-info. */
function freshTree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'letta-tree-'));
  scratch.push(dir);
  const sp = inject('lettaSitePackages');
  cpSync(join(sp, 'letta'), join(dir, 'letta'), { recursive: true, filter: (src) => !src.includes('__pycache__') });
  cpSync(join(sp, `letta-${version}.dist-info`), join(dir, `letta-${version}.dist-info`), { recursive: true });
  return dir;
}

function treeHash(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else h.update(`${relative(dir, p)}\0${st.mode}\0`).update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

afterAll(() => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

describe(`letta ${version}: patch-server`, () => {
  it('--check on the installed site-packages reports the version from dist-info and every patch applicable', () => {
    const r = cli('--check', inject('lettaSitePackages'));
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(`letta ${version} in ${inject('lettaSitePackages')} (version from letta-${version}.dist-info/METADATA)`);
    expect(r.out.match(/^\s+applicable\s/gm)).toHaveLength(3);
  });

  it('--apply applies the set once; the second run is a no-op and --check then says all applied', () => {
    const dir = freshTree();
    const first = cli('--apply', dir);
    expect(first.code, first.out).toBe(0);
    expect(first.out).toContain('applied 3 patch(es)');
    const afterFirst = treeHash(dir);
    const second = cli('--apply', dir);
    expect(second.code, second.out).toBe(0);
    expect(second.out).toContain('nothing to do: all patches were already applied');
    expect(treeHash(dir)).toBe(afterFirst);
    const check = cli('--check', dir);
    expect(check.code).toBe(0);
    expect(check.out).toContain('all patches applied');
    // The patched package still compiles.
    execFileSync(join(inject('lettaVenv'), 'bin', 'python'), ['-m', 'compileall', '-q', join(dir, 'letta', 'services'), join(dir, 'letta', 'server', 'rest_api', 'routers')]);
  });

  it('a tree where one hunk cannot apply is left byte-identical and the command exits non-zero', () => {
    const dir = freshTree();
    const target = join(dir, 'letta/server/rest_api/routers/v1/git_http.py');
    const text = readFileSync(target, 'utf8');
    // A line the 03 patch removes: its hunk can no longer match.
    expect(text).toContain('Retry with backoff to handle race condition');
    writeFileSync(target, text.replace('Retry with backoff to handle race condition', 'Retry (locally edited)'));
    const before = treeHash(dir);
    const r = cli('--apply', dir);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/nothing changed: 1 patch\(es\) do not apply .*03-sync-from-git-endpoint\.patch.*git_http\.py.*FAILED/);
    expect(treeHash(dir)).toBe(before);
    const check = cli('--check', dir);
    expect(check.code).toBe(1);
    expect(check.out).toMatch(/conflict\s+03-sync-from-git-endpoint\.patch/);
  });

  it('refuses an unknown version with one clear line and changes nothing', () => {
    const dir = freshTree();
    const metadata = join(dir, `letta-${version}.dist-info`, 'METADATA');
    writeFileSync(metadata, readFileSync(metadata, 'utf8').replace(/^Version: .*$/m, 'Version: 0.16.6'));
    const before = treeHash(dir);
    const r = cli('--apply', dir);
    expect(r.code).toBe(1);
    expect(r.out.trim().split('\n')).toHaveLength(1);
    expect(r.out).toContain(`letta 0.16.6 (from letta-${version}.dist-info/METADATA) is not a version these patches were made for; supported: 0.16.7, 0.16.8`);
    expect(treeHash(dir)).toBe(before);
  });

  it('reads the version of a bare letta/ copy from its __init__.py fallback', () => {
    const dir = freshTree();
    rmSync(join(dir, `letta-${version}.dist-info`), { recursive: true });
    const r = cli('--check', dir);
    expect(r.code, r.out).toBe(0);
    // letta/__init__.py @ 0.16.8 still carries the literal "0.16.7": the same patch set serves both.
    expect(r.out).toMatch(/letta 0\.16\.7 in .* \(version from letta\/__init__\.py\)/);
  });
});
