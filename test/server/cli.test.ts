/** The server commands as an operator runs them: real processes of the built CLI, real repos, the Letta double. */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readSyncState } from '../../src/server/letta/sync-state.js';
import { g, serverEdit } from '../fixtures/server-repo.js';
import { CLI } from '../helpers/cli.js';
import { clientPush, type Harness, makeHarness, rev } from './harness.js';

const PW = 'pw-cli-secret-77';

let h: Harness;
beforeEach(async () => {
  h = await makeHarness({ password: PW });
  // An operator's config file in the memfs root, kept by init: one quick retry instead of five with backoff.
  await fs.writeFile(path.join(h.memfsRoot, '.letta-memfs-hooksrc.json'), JSON.stringify({ syncRetries: 1 }));
});
afterEach(async () => h.cleanup());

// Asynchronous on purpose: the Letta double answers from this process's event loop.
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: h.root,
      env: { ...process.env, XDG_CONFIG_HOME: path.join(h.root, 'xdg'), LETTA_SERVER_PASSWORD: PW, LETTA_MEMFS_INTERNAL: undefined, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

// Patched mode by flag: these tests count sync calls, and detection would add its probe of the endpoint.
const init = () =>
  cli(['init', '--server', '--memfs-root', h.memfsRoot, '--remote', `${h.extRoot}/{agentId}.git`, '--letta-url', h.letta.url, '--mode', 'patched']);

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('timed out waiting');
}

describe('server CLI', () => {
  it('init --server sets up every agent idempotently; pull --all, status and exit codes', async () => {
    const a = await h.addAgent();
    const b = await h.addAgent();
    const first = await init();
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/set up 2 agent repo/);
    for (const r of [a, b]) {
      for (const hook of ['reference-transaction', 'post-merge', 'post-checkout']) {
        expect((await fs.stat(path.join(r.gitDir, 'hooks', hook))).mode & 0o111).not.toBe(0);
      }
      expect(await g(h.root, [`--git-dir=${r.gitDir}`, 'config', 'gc.auto'])).toBe('0');
      expect(await g(h.root, [`--git-dir=${r.gitDir}`, 'config', 'remote.letta-memfs.url'])).toBe(h.extPath(r.agentId));
      expect(await g(h.root, [`--git-dir=${r.gitDir}`, 'config', 'core.bare'])).toBe('false');
      // No hook wiring through config: Letta's temp copies carry the config along (facts file, section 1).
      expect(await g(h.root, [`--git-dir=${r.gitDir}`, 'config', '--get-regexp', '^(core\\.hookspath|hook\\.)']).catch(() => '')).toBe('');
    }
    const cfgBefore = await fs.readFile(path.join(a.gitDir, 'config'), 'utf8');
    const hookBefore = await fs.readFile(path.join(a.gitDir, 'hooks', 'post-merge'), 'utf8');
    expect((await init()).code).toBe(0);
    expect(await fs.readFile(path.join(a.gitDir, 'config'), 'utf8')).toBe(cfgBefore);
    // A re-run repairs what went missing (a deleted hook, a lost exec bit) and changes nothing else.
    await fs.rm(path.join(b.gitDir, 'hooks', 'post-merge'));
    await fs.chmod(path.join(a.gitDir, 'hooks', 'post-checkout'), 0o644);
    expect((await init()).code).toBe(0);
    expect(await fs.readFile(path.join(b.gitDir, 'hooks', 'post-merge'), 'utf8')).toBe(hookBefore.replaceAll(a.gitDir, b.gitDir));
    expect((await fs.stat(path.join(a.gitDir, 'hooks', 'post-checkout'))).mode & 0o111).not.toBe(0);
    expect(await fs.readFile(path.join(a.gitDir, 'config'), 'utf8')).toBe(cfgBefore);

    // Settings were recorded: pull needs no flags but the root.
    const seed = await cli(['pull', '--all', '--memfs-root', h.memfsRoot]);
    expect(seed.code, seed.err).toBe(0);
    expect(seed.out).toMatch(/2 agents, 2 moved, 0 failed/);
    const c1 = await clientPush(h.extPath(a.agentId), path.join(h.root, 'c1'), 'system/human.md', 'client\n');
    await serverEdit(a.gitDir, { label: 'system/human', content: 'server\n' });
    const conflict = await cli(['pull', '--agent', a.agentId, '--memfs-root', h.memfsRoot]);
    expect(conflict.code).toBe(3);
    expect(conflict.out).toMatch(/CONFLICT in system\/human\.md: server side kept in refs\/letta-memfs\/conflicts\//);
    expect(await g(h.root, [`--git-dir=${a.gitDir}`, 'merge-base', '--is-ancestor', c1, 'main']).then(() => true)).toBe(true);

    const st = await cli(['status', '--server', '--memfs-root', h.memfsRoot, '--json']);
    expect(st.code).toBe(3);
    const rows = JSON.parse(st.out) as { agentId: string; conflicts: unknown[]; head: string; lastSynced: string; externalHead: string }[];
    const ra = rows.find((r) => r.agentId === a.agentId)!;
    expect(ra.conflicts).toHaveLength(1);
    expect(ra.lastSynced).toBe(ra.head);
    expect(ra.externalHead).toBe(ra.head);
    expect(rows.find((r) => r.agentId === b.agentId)!.conflicts).toHaveLength(0);
    // The password never shows up in output.
    for (const s of [first, seed, conflict, st]) expect(s.out + s.err).not.toContain(PW);
  });

  it('bad input: one line with the fix, non-zero exit, nothing written', async () => {
    await h.addAgent();
    const noSel = await cli(['pull', '--memfs-root', h.memfsRoot]);
    expect(noSel.code).toBe(2);
    expect(noSel.err.trim().split('\n')).toHaveLength(1);
    expect(noSel.err).toMatch(/needs --agent <id> or --all.*fix:/);
    const badId = await cli(['pull', '--agent', '../../etc', '--memfs-root', h.memfsRoot]);
    expect(badId.code).toBe(2); // a malformed value is a usage error
    expect(badId.err).toMatch(/invalid --agent.*expected agent-<uuid>/);
    const badRoot = await cli(['init', '--server', '--memfs-root', path.join(h.root, 'nope'), '--remote', `${h.extRoot}/{agentId}.git`]);
    expect(badRoot.code).toBe(1);
    expect(badRoot.err).toMatch(/does not exist \(fix: pass the Letta memfs root/);
    const creds = await cli(['init', '--server', '--memfs-root', h.memfsRoot, '--remote', 'https://u:tok3n-abc@h.example/{agentId}.git']);
    expect(creds.code).toBe(2);
    expect(creds.err).not.toContain('tok3n-abc');
    expect((await fs.readdir(h.memfsRoot)).sort()).toEqual(['.letta-memfs-hooksrc.json', 'repository']);
    expect(JSON.parse(await fs.readFile(path.join(h.memfsRoot, '.letta-memfs-hooksrc.json'), 'utf8'))).toEqual({ syncRetries: 1 });
  });

  it('outage: Letta down for 20 changes; afterwards every agent is synced to its head, in order', async () => {
    const agents = [await h.addAgent(), await h.addAgent(), await h.addAgent()];
    expect((await init()).code).toBe(0);
    expect((await cli(['pull', '--all', '--memfs-root', h.memfsRoot])).code).toBe(0);
    await h.letta.setMode('down');
    const systemTouched = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const a = agents[i % 3];
      const file = i % 4 === 0 ? 'system/human.md' : `notes/n${i}.md`;
      if (file.startsWith('system/')) systemTouched.add(a.agentId);
      if (i % 5 === 4) await serverEdit(a.gitDir, { label: 'system/persona', content: `server ${i}\n` });
      await clientPush(h.extPath(a.agentId), path.join(h.root, `c-${a.agentId}`), file, `change ${i}\n`);
      const r = await cli(['pull', '--agent', a.agentId, '--memfs-root', h.memfsRoot], { LETTA_BASE_URL: h.letta.url });
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/sync failed: cannot reach Letta/);
    }
    const pending = await cli(['status', '--server', '--memfs-root', h.memfsRoot, '--json']);
    expect((JSON.parse(pending.out) as { pending?: unknown }[]).every((s) => s.pending)).toBe(true);
    expect(h.letta.calls).toHaveLength(0);

    await h.letta.setMode('ok');
    const retry = await cli(['sync', '--pending', '--memfs-root', h.memfsRoot]);
    expect(retry.code, retry.out + retry.err).toBe(0);
    expect(retry.out).toMatch(/3 agent\(s\) had a pending sync/);
    for (const a of agents) {
      const head = await rev(a.gitDir, 'main');
      expect((await readSyncState(a.gitDir)).lastSynced).toBe(head);
      const calls = h.letta.calls.filter((c) => c.agentId === a.agentId);
      expect(calls.map((c) => c.head)).toEqual([head]);
      expect(calls[0].recompile).toBe(systemTouched.has(a.agentId));
    }
    expect((await cli(['sync', '--pending', '--memfs-root', h.memfsRoot])).out).toMatch(/0 agent\(s\) had a pending sync/);
    expect(h.letta.calls).toHaveLength(3);
  }, 180_000);

  it('hooks: an operator fetch into repo.git fires reference-transaction, which syncs in the background', async () => {
    const a = await h.addAgent();
    expect((await init()).code).toBe(0);
    expect((await cli(['pull', '--all', '--memfs-root', h.memfsRoot])).code).toBe(0);
    const pushed = await clientPush(h.extPath(a.agentId), path.join(h.root, 'c1'), 'system/human.md', 'via hook\n');
    // What an operator (or the community recipe) runs by hand; our env marker is absent, so the hook acts.
    await g(h.root, [`--git-dir=${a.gitDir}`, 'fetch', '-q', '--update-head-ok', h.extPath(a.agentId), 'main:main'], {
      env: { LETTA_SERVER_PASSWORD: PW },
    });
    await waitFor(async () => (await readSyncState(a.gitDir)).lastSynced === pushed);
    expect(h.letta.calls).toMatchObject([{ agentId: a.agentId, head: pushed, recompile: true, authorization: `Bearer ${PW}` }]);

    // Letta down: git is not held up and does not fail; the sync stays pending with the error recorded.
    await h.letta.setMode('down');
    const p2 = await clientPush(h.extPath(a.agentId), path.join(h.root, 'c1'), 'notes/x.md', 'x\n');
    const t0 = Date.now();
    await g(h.root, [`--git-dir=${a.gitDir}`, 'fetch', '-q', '--update-head-ok', h.extPath(a.agentId), 'main:main']);
    expect(Date.now() - t0).toBeLessThan(3000);
    await waitFor(async () => (await readSyncState(a.gitDir)).lastError !== undefined);
    const st = await readSyncState(a.gitDir);
    expect(st.pending?.target).toBe(p2);
    expect(st.lastSynced).toBe(pushed);
    await h.letta.setMode('ok');
    expect((await cli(['sync', '--pending', '--memfs-root', h.memfsRoot])).code).toBe(0);
    expect((await readSyncState(a.gitDir)).lastSynced).toBe(p2);
    expect(h.letta.calls.map((c) => [c.head, c.recompile])).toEqual([
      [pushed, true],
      [p2, false],
    ]);
  });

  it('doctor names each failure with its fix', async () => {
    await h.addAgent();
    expect((await init()).code).toBe(0);
    const good = await cli(['doctor', '--memfs-root', h.memfsRoot]);
    expect(good.out).toMatch(/ok {3}sync endpoint/);
    expect(good.code, good.out).toBe(0);
    await h.letta.setMode('patch-missing');
    const missing = await cli(['doctor', '--memfs-root', h.memfsRoot]);
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(/FAIL sync endpoint: missing .*fix: Letta without the endpoint: apply the server patch/);
    await h.letta.setMode('ok');
    const badAuth = await cli(['doctor', '--memfs-root', h.memfsRoot], { LETTA_SERVER_PASSWORD: 'wrong' });
    expect(badAuth.code).toBe(1);
    expect(badAuth.out).toMatch(/FAIL Letta auth: HTTP 401/);
    expect(badAuth.out).not.toContain('wrong');
    await h.letta.setMode('down');
    const down = await cli(['doctor', '--memfs-root', h.memfsRoot]);
    expect(down.out).toMatch(/FAIL Letta reachable: .*ECONNREFUSED.*fix: start the Letta server/);
  });
});
