/** The installed hook runtime's life: shared by repos, restored by init and doctor, removed when nobody uses it. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveRepo } from '../../src/git/git.js';
import { install, uninstall } from '../../src/install/installer.js';
import { hookEntryOf, useRuntime } from '../../src/install/runtime.js';
import { setupServer } from '../../src/server/setup/init-server.js';
import { repairRuntimes } from '../../src/server/setup/repair-runtime.js';
import { initRepo, sh, tempDir } from '../helpers/repo.js';
import { makeHarness } from '../server/harness.js';

let cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function workspace() {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

/** A server-role post-checkout on a branch switch starts node, which finds no settings (init writes them) and says so. */
async function repoWithHook(dir: string, base: string) {
  const repo = await resolveRepo({ cwd: initRepo(dir) });
  const manifest = await install({ repo, role: 'server', hooks: ['post-checkout'], config: {}, runtimeBase: base });
  return { dir, repo, runtime: manifest.runtime! };
}
const checkout = (dir: string, branch: string) =>
  execFileSync('sh', ['-c', `git checkout -q -b ${branch} 2>&1`], { cwd: dir, encoding: 'utf8' });

describe('hook runtime', () => {
  it('is one copy per build shared by repos, and uninstall removes it with its last user', async () => {
    const ws = workspace();
    const base = path.join(ws, 'runtimes');
    const a = await repoWithHook(path.join(ws, 'a'), base);
    const b = await repoWithHook(path.join(ws, 'b'), base);
    const gone = await repoWithHook(path.join(ws, 'gone'), base);
    expect(new Set([a.runtime, b.runtime, gone.runtime]).size).toBe(1);
    expect(path.dirname(a.runtime)).toBe(base);
    expect(fs.readdirSync(path.join(a.runtime, 'users'))).toHaveLength(3);
    expect(checkout(a.dir, 'x')).toMatch(/post-checkout: this repo has no settings/);

    await uninstall(a.repo);
    expect(fs.existsSync(hookEntryOf(b.runtime))).toBe(true);
    expect(checkout(b.dir, 'x')).toMatch(/post-checkout: this repo has no settings/);
    // A repo deleted without uninstall (long ago: a young registration may be an init in progress) does not keep the
    // runtime alive.
    fs.rmSync(gone.dir, { recursive: true });
    const usersDir = path.join(a.runtime, 'users');
    const old = new Date(Date.now() - 3_600_000);
    for (const f of fs.readdirSync(usersDir)) {
      // Registrations are relative to the runtime (a moved volume keeps them valid).
      if (path.resolve(a.runtime, fs.readFileSync(path.join(usersDir, f), 'utf8').trim()) === gone.repo.commonDir) fs.utimesSync(path.join(usersDir, f), old, old);
    }
    await uninstall(b.repo);
    expect(fs.existsSync(a.runtime)).toBe(false);
    expect(fs.readdirSync(base)).toEqual([]);
  });

  it('an uninstall never deletes a runtime that an init elsewhere has just registered for', async () => {
    const ws = workspace();
    const base = path.join(ws, 'runtimes');
    const a = await repoWithHook(path.join(ws, 'a'), base);
    // Another repo's init has registered but not yet written its manifest.
    const pending = await resolveRepo({ cwd: initRepo(path.join(ws, 'pending')) });
    expect(await useRuntime(base, pending.commonDir)).toBe(a.runtime);
    await uninstall(a.repo);
    expect(fs.existsSync(hookEntryOf(a.runtime))).toBe(true);
  });

  it('a runtime deleted by hand is put back by re-running init', async () => {
    const ws = workspace();
    const base = path.join(ws, 'runtimes');
    const a = await repoWithHook(path.join(ws, 'a'), base);
    fs.rmSync(a.runtime, { recursive: true });
    expect(checkout(a.dir, 'x')).toMatch(/post-checkout not run: the hook runtime .* is not trusted: .* is missing \(fix: re-run .+ init\)/);
    expect((await install({ repo: a.repo, role: 'server', hooks: ['post-checkout'], config: {}, runtimeBase: base })).runtime).toBe(a.runtime);
    sh(a.dir, ['checkout', '-q', 'main']);
    expect(checkout(a.dir, 'y')).toMatch(/post-checkout: this repo has no settings/);
  });

  it('doctor repairs server hooks whose runtime is gone', async () => {
    const h = await makeHarness();
    cleanups.push(() => h.cleanup());
    const agent = await h.addAgent();
    await setupServer({ config: h.config });
    // Stored relative to repo.git (issue 17 class 6), so the memfs root may be mounted elsewhere.
    const stored = JSON.parse(fs.readFileSync(path.join(agent.gitDir, 'letta-memfs', 'install.json'), 'utf8')) as { runtime: string };
    expect(path.isAbsolute(stored.runtime)).toBe(false);
    const manifest = { runtime: path.resolve(agent.gitDir, stored.runtime) };
    expect(path.relative(h.memfsRoot, manifest.runtime)).toMatch(/^\.letta-memfs-hooks\/runtime\/[\d.]+-[0-9a-f]{12}$/);
    const ctx = { config: h.config, memfsRoot: h.memfsRoot, letta: h.lettaOpts };
    expect(await repairRuntimes(ctx, [agent])).toMatchObject({ ok: true, detail: '1 runtime(s) intact' });

    fs.rmSync(path.join(manifest.runtime, 'dist'), { recursive: true });
    expect(await repairRuntimes(ctx, [agent])).toMatchObject({ ok: true, detail: expect.stringMatching(/^repaired: 1 agent/) });
    const shim = fs.readFileSync(path.join(agent.gitDir, 'hooks', 'reference-transaction'), 'utf8');
    const entry = /^LMH_ENTRY='(.*)'$/m.exec(shim)![1];
    expect(fs.existsSync(entry)).toBe(true);
  });
});
