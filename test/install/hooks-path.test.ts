// Where hooks go, read from a repo's config files (src/git/hooks-path.ts), against `git config --get
// core.hooksPath` on the same repo; and the one git call that says whether config outside the repos could interfere.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { noHooksPathOutsideRepos, repoHooksPath } from '../../src/git/hooks-path.js';
import { tempDir } from '../helpers/repo.js';

const tmp = tempDir();
afterAll(tmp.cleanup);
const ISOLATED = { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
let n = 0;

/** A bare repo whose config gets `extra` appended, plus files (relative to the repo) it may include. */
function repo(extra: string, files: Record<string, string> = {}): string {
  const dir = path.join(tmp.dir, `r${n++}.git`);
  execFileSync('git', ['init', '-q', '--bare', dir], { env: { ...process.env, ...ISOLATED } });
  fs.appendFileSync(path.join(dir, 'config'), extra);
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

function gitHooksPath(dir: string): string | undefined {
  try {
    return execFileSync('git', ['--git-dir', dir, 'config', '--get', 'core.hooksPath'], { env: { ...process.env, ...ISOLATED }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).replace(/\n$/, '');
  } catch {
    return undefined;
  }
}

describe('core.hooksPath from the repo config files, as git sees it', () => {
  const SHAPES: [string, string, Record<string, string>?][] = [
    ['unset', ''],
    ['set in the config', '[core]\n\thooksPath = .husky/_\n'],
    ['set twice: the last one', '[core]\n\thooksPath = a\n[Core]\n\tHOOKSPATH = "b c"\n'],
    ['empty', '[core]\n\thooksPath =\n'],
    ['from a relative include', '[include]\n\tpath = letta-memfs/config\n', { 'letta-memfs/config': '[core]\n\thooksPath = inc\n' }],
    ['from a nested include, relative to the including file', '[include]\n\tpath = a/one\n', { 'a/one': '[include]\n\tpath = b/two\n', 'a/b/two': '[core]\n\thooksPath = deep\n' }],
    ['an include of a missing file', '[include]\n\tpath = nothing/here\n'],
    ['overridden by a later include', '[core]\n\thooksPath = first\n[include]\n\tpath = x\n', { x: '[core]\n\thooksPath = second\n' }],
    ['an included value overridden by a later key', '[include]\n\tpath = x\n[core]\n\thooksPath = last\n', { x: '[core]\n\thooksPath = first\n' }],
    ['an include that sets nothing', '[core]\n\thooksPath = kept\n[include]\n\tpath = x\n', { x: '[gc]\n\tauto = 0\n' }],
  ];
  for (const [name, extra, files] of SHAPES) {
    it(name, () => {
      const dir = repo(extra, files);
      const ours = repoHooksPath(dir);
      expect(ours).toBeDefined();
      expect(ours!.value || undefined).toBe(gitHooksPath(dir) || undefined);
    });
  }

  const ASK_GIT: [string, string, Record<string, string>?][] = [
    ['a conditional include', '[includeIf "gitdir:/"]\n\tpath = x\n', { x: '[core]\n\thooksPath = cond\n' }],
    ['an include under ~', '[include]\n\tpath = ~/x\n'],
    ['per-worktree config', '[extensions]\n\tworktreeConfig = true\n'],
    ['an included file git cannot read', '[include]\n\tpath = x\n', { x: '[core]\n\thooksPath = "broken\n' }],
    ['a continuation line', '[core]\n\thooksPath = a\\\nb\n'],
  ];
  for (const [name, extra, files] of ASK_GIT) {
    it(`asks git for ${name}`, () => {
      expect(repoHooksPath(repo(extra, files))).toBeUndefined();
    });
  }
});

describe('config outside the repos', () => {
  const dir = repo('[core]\n\thooksPath = local-only\n');
  const global = (text: string) => {
    const f = path.join(tmp.dir, `global${n++}`);
    fs.writeFileSync(f, text);
    return { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: f };
  };
  it('is quiet with a plain user config, whatever the repo itself sets', async () => {
    expect(await noHooksPathOutsideRepos({ gitDir: dir, env: global('[user]\n\tname = x\n[include]\n\tpath = /nonexistent\n') })).toBe(true);
  });
  it('is not with core.hooksPath set for the user, in a file the user config includes, or in the environment', async () => {
    const inc = path.join(tmp.dir, 'inc');
    fs.writeFileSync(inc, '[core]\n\thooksPath = /hooks\n');
    expect(await noHooksPathOutsideRepos({ gitDir: dir, env: global('[core]\n\thooksPath = /hooks\n') })).toBe(false);
    expect(await noHooksPathOutsideRepos({ gitDir: dir, env: global(`[include]\n\tpath = ${inc}\n`) })).toBe(false);
    expect(await noHooksPathOutsideRepos({ gitDir: dir, env: { ...global(''), GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'core.hooksPath', GIT_CONFIG_VALUE_0: '/h' } })).toBe(false);
  });
  it('is not with a conditional include, even one that does not match this repo', async () => {
    expect(await noHooksPathOutsideRepos({ gitDir: dir, env: global('[includeIf "gitdir:/nowhere/"]\n\tpath = /x\n') })).toBe(false);
  });
});
