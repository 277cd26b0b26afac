import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT, cli, clientSuite, commitAll, gitOk, initCheckout, lettaGit, makeCheckout, md, ROOT, sandbox, snapshot, writeFile, type Sandbox } from './env.js';

// Other hook managers in the same checkout: ours and theirs both run, and uninstall puts every file and key back.
const USER = 'memfs-bot';
const TOKEN = 'coexist-token-9d';

const suite = clientSuite(USER, TOKEN);

interface World {
  dir: string;
  sb: Sandbox;
  checkout: string;
  name: string;
  remote: string;
  log: string;
}

async function world(): Promise<World> {
  const t = { dir: suite.workspace('lmh-coexist-') };
  const sb = sandbox(t.dir, { LETTA_MEMFS_GIT_TOKEN: TOKEN });
  const name = `c/${Math.random().toString(36).slice(2)}/${AGENT}.git`;
  const url = await suite.host.createRepo(name, { files: { 'system/human.md': md('human', 'Ada\n') } });
  const checkout = makeCheckout(sb, path.join(t.dir, 'memory'));
  return { dir: t.dir, sb, checkout, name, remote: url.replace(AGENT, '{agentId}'), log: path.join(t.dir, 'hooks.log') };
}

function init(w: World) {
  const r = initCheckout(w.sb, w.checkout, USER, w.remote);
  expect(r.status, r.stderr).toBe(0);
  return r;
}

const logLines = (w: World) => (fs.existsSync(w.log) ? fs.readFileSync(w.log, 'utf8').trim().split('\n') : []);
const ourState = (w: World, f: string) => path.join(w.checkout, '.git', 'letta-memfs', f);

/** Pull (fires post-merge), then push a good commit and a bad one; returns what the repo looked like before init. */
function exercise(w: World) {
  // A commit on the external repo so that the pull merges (a pull into an unborn branch fires no post-merge).
  expect(lettaGit(w.sb, w.checkout, ['pull', '-q', '--ff-only', 'origin', 'main']).status).toBe(0);
  const other = path.join(w.dir, 'other');
  const auth = `http.extraHeader=Authorization: Basic ${Buffer.from(`${USER}:${TOKEN}`).toString('base64')}`;
  gitOk(w.sb, w.dir, ['-c', auth, 'clone', '-q', suite.host.repoUrl(w.name), other]);
  writeFile(other, 'system/persona.md', md('persona', 'p\n'));
  commitAll(w.sb, other, 'persona');
  gitOk(w.sb, other, ['-c', auth, 'push', '-q', 'origin', 'main']);
  const pull = lettaGit(w.sb, w.checkout, ['pull', '--ff-only', 'origin', 'main']);
  expect(pull.status, pull.stderr).toBe(0);
  expect(fs.existsSync(ourState(w, 'last-post-merge'))).toBe(true);

  writeFile(w.checkout, 'system/human.md', md('human', 'Ada L.\n'));
  const good = commitAll(w.sb, w.checkout, 'good');
  const ok = lettaGit(w.sb, w.checkout, ['push', 'origin', 'main']);
  expect(ok.status, ok.stderr).toBe(0);
  expect(suite.host.git(w.name, ['rev-parse', 'refs/heads/main'])).toBe(good);
  expect(JSON.parse(fs.readFileSync(ourState(w, 'last-push.json'), 'utf8')).refused).toBe(false);

  writeFile(w.checkout, 'system/bad.md', 'no frontmatter\n');
  commitAll(w.sb, w.checkout, 'bad');
  const bad = lettaGit(w.sb, w.checkout, ['push', 'origin', 'main']);
  expect(bad.status).not.toBe(0);
  expect(bad.stderr).toMatch(/push refused: system\/bad\.md: has no frontmatter/);
  return { good };
}

function before(w: World, hooksDir: string) {
  return { config: fs.readFileSync(path.join(w.checkout, '.git', 'config')), hooks: snapshot(hooksDir) };
}

function uninstallRestores(w: World, hooksDir: string, b: ReturnType<typeof before>) {
  const r = cli(w.sb, ['uninstall'], { cwd: w.checkout });
  expect(r.status, r.stderr).toBe(0);
  expect(fs.readFileSync(path.join(w.checkout, '.git', 'config')).toString()).toBe(b.config.toString());
  expect(snapshot(hooksDir)).toEqual(b.hooks);
  expect(fs.existsSync(path.join(w.checkout, '.git', 'letta-memfs'))).toBe(false);
}

const LOGGING_HOOK = (log: string, name: string, readStdin: boolean) =>
  `#!/bin/sh\nprintf '%s %s\\n' '${name}' "$*" >> '${log}'\n${readStdin ? `while read -r l r o ro; do echo "${name}-stdin $o" >> '${log}'; done\n` : ''}exit 0\n`;

describe('coexistence with other hooks', () => {
  it('a foreign pre-push and post-merge: both run with their arguments and stdin, and come back on uninstall', async () => {
    const w = await world();
    const hooks = path.join(w.checkout, '.git', 'hooks');
    fs.writeFileSync(path.join(hooks, 'pre-push'), LOGGING_HOOK(w.log, 'their-pre-push', true), { mode: 0o755 });
    fs.writeFileSync(path.join(hooks, 'post-merge'), LOGGING_HOOK(w.log, 'their-post-merge', false), { mode: 0o755 });
    const b = before(w, hooks);
    init(w);
    const { good } = exercise(w);
    const lines = logLines(w);
    expect(lines).toContain('their-post-merge 0');
    expect(lines).toContain(`their-pre-push origin ${suite.host.repoUrl(w.name)}`);
    expect(lines).toContain('their-pre-push-stdin refs/heads/main');
    expect(lines.filter((l) => l.startsWith('their-pre-push origin'))).toHaveLength(2);
    expect(good).toMatch(/^[0-9a-f]{40}$/);
    uninstallRestores(w, hooks, b);
  });

  it('a husky repo (core.hooksPath=.husky/_): our hooks go into its dir, husky hooks still run', async () => {
    const w = await world();
    // Real husky 9 (this repo's dev dependency) sets core.hooksPath and writes its dispatchers.
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'husky', 'bin.js')], { cwd: w.checkout, env: w.sb.env });
    expect(gitOk(w.sb, w.checkout, ['config', 'core.hooksPath'])).toBe('.husky/_');
    fs.writeFileSync(path.join(w.checkout, '.husky', 'pre-push'), `printf 'husky-pre-push %s\\n' "$*" >> '${w.log}'\n`);
    fs.writeFileSync(path.join(w.checkout, '.husky', 'post-merge'), `echo husky-post-merge >> '${w.log}'\n`);
    // husky's own files are untracked in a memory repo: keep them out of the pushes.
    fs.writeFileSync(path.join(w.checkout, '.git', 'info', 'exclude'), '.husky/\n');
    const hooksDir = path.join(w.checkout, '.husky', '_');
    const b = before(w, hooksDir);
    const r = init(w);
    expect(r.stderr.trim()).toMatch(/^letta-memfs-hooks: warning: core\.hooksPath is set: installing into .*\.husky\/_;/);
    expect(r.stdout).toContain(`in ${hooksDir}`);
    exercise(w);
    const lines = logLines(w);
    expect(lines).toContain('husky-post-merge');
    expect(lines.filter((l) => l.startsWith('husky-pre-push origin '))).toHaveLength(2);
    // init never sets or changes core.hooksPath.
    expect(gitOk(w.sb, w.checkout, ['config', 'core.hooksPath'])).toBe('.husky/_');
    uninstallRestores(w, hooksDir, b);
  });

  it('a git-lfs style hook set: lfs hooks still run, post-commit is left alone', async () => {
    const w = await world();
    // What `git lfs install` writes (git-lfs 3.x); a stand-in git-lfs on PATH records the calls.
    fs.writeFileSync(
      path.join(w.dir, 'bin', 'git-lfs'),
      `#!/bin/sh\nprintf 'lfs %s\\n' "$*" >> '${w.log}'\nif [ "$1" = pre-push ]; then while read -r l r o ro; do echo "lfs-stdin $o" >> '${w.log}'; done; fi\n`,
      { mode: 0o755 },
    );
    const hooks = path.join(w.checkout, '.git', 'hooks');
    for (const h of ['pre-push', 'post-checkout', 'post-commit', 'post-merge']) {
      fs.writeFileSync(
        path.join(hooks, h),
        `#!/bin/sh\ncommand -v git-lfs >/dev/null 2>&1 || { printf >&2 "\\n%s\\n\\n" "This repository is configured for Git LFS but 'git-lfs' was not found on your path. If you no longer wish to use Git LFS, remove this hook by deleting the '.git/hooks/${h}' file."; exit 2; }\ngit lfs ${h} "$@"\n`,
        { mode: 0o755 },
      );
    }
    const postCommit = fs.readFileSync(path.join(hooks, 'post-commit'));
    const b = before(w, hooks);
    init(w);
    expect(fs.readFileSync(path.join(hooks, 'post-commit'))).toEqual(postCommit);
    exercise(w);
    gitOk(w.sb, w.checkout, ['checkout', '-q', '-b', 'side']);
    const lines = logLines(w);
    expect(lines).toContain('lfs post-merge 0');
    expect(lines.filter((l) => l.startsWith('lfs pre-push origin '))).toHaveLength(2);
    expect(lines).toContain('lfs-stdin refs/heads/main');
    expect(lines.some((l) => /^lfs post-checkout [0-9a-f]{40} [0-9a-f]{40} 1$/.test(l))).toBe(true);
    expect(lines.some((l) => l.startsWith('lfs post-commit'))).toBe(true);
    expect(fs.existsSync(ourState(w, 'last-post-checkout'))).toBe(true);
    uninstallRestores(w, hooks, b);
  });
});
