// Server-side validation in the memfs service: a push to main that would break Letta's sync is refused, and the
// pushing git client shows why (`remote:` lines, `[remote rejected]`). Hooks come from the service's own directory
// through the spawned receive-pack's environment; repo.git/config and repo.git/hooks play no part.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sh, tempDir } from '../helpers/repo.js';
import { createAgentRepo, gitClient, memfsFile, newAgentId, startService, type Service } from './fixture.js';

let svc: Service;
let work: { dir: string; cleanup: () => void };

beforeAll(async () => {
  work = tempDir('lmh-memfs-pr-');
  svc = await startService();
});
afterAll(async () => {
  await svc?.stop();
  svc?.cleanup();
  work?.cleanup();
});

let n = 0;
async function setup(files?: Record<string, string>): Promise<{ gitDir: string; dir: string }> {
  const agent = newAgentId();
  const gitDir = createAgentRepo(svc.root, agent, undefined, files);
  const dir = path.join(work.dir, `c${++n}`);
  const r = await gitClient(work.dir, ['clone', '-q', svc.base(agent), dir]);
  expect(r.code, r.err).toBe(0);
  return { gitDir, dir };
}

function commit(dir: string, file: string, content: string | Buffer): void {
  fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
  fs.writeFileSync(path.join(dir, file), content);
  sh(dir, ['add', '-A']);
  sh(dir, ['commit', '-q', '-m', `edit ${file}`]);
}

const main = (gitDir: string) => sh(gitDir, ['--git-dir', gitDir, 'rev-parse', 'refs/heads/main']);

describe('memfs service: pre-receive validation', () => {
  it('a binary file anywhere is refused; the client sees the file and the fix; main and the object store stay', async () => {
    const { gitDir, dir } = await setup();
    const before = main(gitDir);
    const config = fs.readFileSync(path.join(gitDir, 'config'));
    commit(dir, 'notes/logo.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 1, 2]));
    const pushed = sh(dir, ['rev-parse', 'HEAD']);
    const r = await gitClient(dir, ['push', 'origin', 'main']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/remote: letta-memfs-hooks: push refused: notes\/logo\.png: is a binary file .*\(fix: /);
    expect(r.err).toMatch(/\[remote rejected\] main -> main \(pre-receive hook declined\)/);
    expect(main(gitDir)).toBe(before);
    // The refused objects stayed in git's quarantine and were dropped with it.
    expect(() => sh(gitDir, ['--git-dir', gitDir, 'cat-file', '-e', pushed])).toThrow();
    expect(fs.readFileSync(path.join(gitDir, 'config'))).toEqual(config);
    // Removing the file in a later commit is not enough (every new object is checked); dropping the commit is.
    sh(dir, ['rm', '-q', 'notes/logo.png']);
    sh(dir, ['commit', '-q', '-m', 'drop binary']);
    const still = await gitClient(dir, ['push', 'origin', 'main']);
    expect(still.err).toMatch(/remote: letta-memfs-hooks: push refused: notes\/logo\.png: is a binary file \(contains NUL bytes\) in a commit of this push/);
    sh(dir, ['reset', '-q', '--hard', 'HEAD~2']);
    commit(dir, 'notes/clean.md', 'clean text');
    const ok = await gitClient(dir, ['push', 'origin', 'main']);
    expect(ok.code, ok.err).toBe(0);
    expect(main(gitDir)).toBe(sh(dir, ['rev-parse', 'HEAD']));
  });

  it('non-UTF-8 text, missing description and a read_only edit are each refused with their line', async () => {
    const { gitDir, dir } = await setup({
      'system/human.md': memfsFile('About the human', 'Ada'),
      'system/rules.md': memfsFile('House rules', 'Be kind.', 'read_only: true\n'),
    });
    const before = main(gitDir);
    commit(dir, 'reference/latin1.md', Buffer.concat([Buffer.from(memfsFile('latin1', '')), Buffer.from([0x63, 0x61, 0x66, 0xe9])]));
    commit(dir, 'system/new.md', '---\nlimit: 100\n---\nno description');
    commit(dir, 'system/rules.md', memfsFile('House rules', 'Be mean.', 'read_only: true\n'));
    const r = await gitClient(dir, ['push', 'origin', 'main']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/remote: letta-memfs-hooks: push refused: 3 problems/);
    expect(r.err).toMatch(/reference\/latin1\.md: is not valid UTF-8/);
    expect(r.err).toMatch(/system\/new\.md: frontmatter has no description/);
    expect(r.err).toMatch(/system\/rules\.md: is read_only on the server and cannot be edited/);
    expect(main(gitDir)).toBe(before);
  });

  it('only main can be pushed (Letta Code pushes no reflection branch); a hook planted in repo.git/hooks never runs', async () => {
    const { gitDir, dir } = await setup();
    const marker = path.join(work.dir, 'planted-ran');
    fs.writeFileSync(path.join(gitDir, 'hooks', 'pre-receive'), `#!/bin/sh\ntouch '${marker}'\nexit 0\n`, { mode: 0o755 });
    commit(dir, 'notes/blob.bin', Buffer.from([0, 1, 2]));
    const r = await gitClient(dir, ['push', 'origin', 'HEAD:refs/heads/letta/reflection/x']);
    expect(r.err).toMatch(/refs\/heads\/letta\/reflection\/x: only refs\/heads\/main can be pushed/);
    expect(fs.existsSync(marker)).toBe(false);
    sh(dir, ['reset', '-q', '--hard', 'HEAD~1']);
    commit(dir, 'system/human.md', memfsFile('About the human', 'Ada, again'));
    const ok = await gitClient(dir, ['push', 'origin', 'main']);
    expect(ok.code, ok.err).toBe(0);
    expect(fs.existsSync(marker)).toBe(false);
  });
});

describe('memfs service: its hooks directory', () => {
  it('lives in <memfs-root>/letta-memfs/serve-hooks (0700), not /tmp; a SIGKILLed service leaves it for the next start, which still validates', async () => {
    const first = await startService();
    const hooksDir = path.join(first.root, 'letta-memfs', 'serve-hooks');
    expect(fs.statSync(hooksDir).mode & 0o777).toBe(0o700);
    expect(fs.readFileSync(path.join(hooksDir, 'pre-receive'), 'utf8')).toMatch(/^#!\/bin\/sh\n/);
    const ownTmp = () => fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('letta-memfs-serve-hooks-')).length;
    const tmpBefore = ownTmp();
    first.proc.kill('SIGKILL');
    await new Promise((r) => first.proc.once('exit', r));
    const again = await startService({ root: first.root });
    try {
      expect(ownTmp()).toBe(tmpBefore);
      const agent = newAgentId();
      createAgentRepo(again.root, agent);
      const w = tempDir('lmh-memfs-hooks-');
      try {
        expect((await gitClient(w.dir, ['clone', '-q', again.base(agent), 'm'])).code).toBe(0);
        commit(path.join(w.dir, 'm'), 'notes/blob.bin', Buffer.from([0, 1, 2]));
        const r = await gitClient(path.join(w.dir, 'm'), ['push', 'origin', 'main']);
        expect(r.err).toMatch(/pre-receive hook declined/);
      } finally {
        w.cleanup();
      }
    } finally {
      await again.stop();
      first.cleanup();
    }
  });
});
