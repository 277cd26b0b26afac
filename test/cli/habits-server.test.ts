/**
 * Issue 10, server role: each bullet against the built CLI (dist/runtime/cli.mjs), real agent repos made the way Letta
 * makes them, bare external repos and the Letta API double; exit codes and first lines asserted.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serverEdit } from '../fixtures/server-repo.js';
import { readSyncState } from '../../src/server/letta/sync-state.js';
import { runCliAsync } from '../helpers/cli.js';
import { snapshot } from '../helpers/repo.js';
import { clientPush, type Harness, makeHarness } from '../server/harness.js';

let h: Harness;
let env: NodeJS.ProcessEnv;
beforeEach(async () => {
  h = await makeHarness();
  // No LETTA_* from the runner; HOME without ~/.letta/memfs unless a test makes one; a private user config dir.
  env = { HOME: path.join(h.root, 'home'), XDG_CONFIG_HOME: path.join(h.root, 'xdg'), LETTA_MEMFS_ROOT: undefined, LETTA_BASE_URL: undefined, LETTA_MEMFS_GIT_URL: undefined };
  await fs.mkdir(env.HOME!, { recursive: true });
});
afterEach(async () => h.cleanup());

const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) => runCliAsync(args, { cwd: h.root, env: { ...env, ...extra } });
const first = (s: string) => s.split('\n')[0];
const remote = () => `${h.extRoot}/{agentId}.git`;
const init = (...more: string[]) => cli(['init', '--server', '--memfs-root', h.memfsRoot, '--remote', remote(), '--letta-url', h.letta.url, ...more]);
/** Letta refusing connections: a port that was just free. */
async function deadUrl(): Promise<string> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

describe('init --server', () => {
  it('accepts --yes (scripts pass it to both roles)', async () => {
    await h.addAgent();
    const r = await init('--yes');
    expect(r.code, r.err).toBe(0);
    expect(first(r.out)).toMatch(/^set up 1 agent repo\(s\) under .* in \d+ ms; settings in /);
  });

  it('remembers its memfs root in the user state dir: later commands need no --memfs-root', async () => {
    const a = await h.addAgent();
    expect((await init()).code).toBe(0);
    const state = JSON.parse(await fs.readFile(path.join(env.XDG_CONFIG_HOME!, 'letta-memfs-hooks', 'state.json'), 'utf8'));
    expect(state.memfsRoot).toBe(h.memfsRoot);
    const st = await cli(['status', '--server']);
    expect(st.code, st.err).toBe(0);
    expect(first(st.out)).toBe(a.agentId);
    expect(st.out).toContain(`1 agent(s) under ${h.memfsRoot}`);
  });

  it("defaults to Letta's ~/.letta/memfs when it exists; without it, exit 2 with the fix", async () => {
    const a = await h.addAgent();
    const none = await cli(['status', '--server']);
    expect(none.code).toBe(2);
    expect(first(none.err)).toBe(
      'letta-memfs-hooks: no memfs root given, and ~/.letta/memfs does not exist (fix: pass --memfs-root /path/to/.letta/memfs once to init --server (it is remembered), or set LETTA_MEMFS_ROOT)',
    );
    await fs.mkdir(path.join(env.HOME!, '.letta'));
    await fs.symlink(h.memfsRoot, path.join(env.HOME!, '.letta', 'memfs'));
    const r = await cli(['init', '--server', '--remote', remote(), '--letta-url', h.letta.url]);
    expect(r.code, r.err).toBe(0);
    expect(first(r.out)).toContain(`under ${path.join(env.HOME!, '.letta', 'memfs')}`);
    expect(first((await cli(['status', '--server'])).out)).toBe(a.agentId);
  });

  it('--dry-run prints the plan and leaves the memfs root and the user dir byte-identical', async () => {
    const a = await h.addAgent();
    const before = [await snapshot(h.memfsRoot), await snapshot(h.root + '/xdg')];
    const r = await init('--dry-run');
    expect(r.code, r.err).toBe(0);
    expect(first(r.out)).toBe(`dry run: init --server would set up 1 agent repo(s) under ${h.memfsRoot}`);
    expect(r.out).toContain(`${a.agentId}: remote ${h.extPath(a.agentId)}`);
    expect([snapshot(h.memfsRoot), snapshot(h.root + '/xdg')]).toEqual(before);
  });
});

describe('pull, sync and watch --once: non-zero when anything failed, one line per failure with its fix', () => {
  it('pull: a failed fetch is one line naming the agent once, with a fix, and exit 1 (never "up to date; error")', async () => {
    const a = await h.addAgent();
    expect((await init()).code).toBe(0);
    await fs.rm(h.extPath(a.agentId), { recursive: true });
    const r = await cli(['pull', '--agent', a.agentId]);
    expect(r.code).toBe(1);
    expect(first(r.out)).toMatch(new RegExp(`^${a.agentId}: pull failed: fetch from the external remote failed: .* \\(fix: check the remote URL, the network and the token \\(.+ doctor\\)\\)$`));
    expect(r.out.split(a.agentId)).toHaveLength(2);
    expect(r.out).not.toMatch(/up to date/);
  });

  it('pull --dry-run asks the remote, says what it would do, and writes nothing', async () => {
    const a = await h.addAgent({ 'system/human.md': '---\ndescription: h\n---\nAda\n' });
    expect((await init()).code).toBe(0);
    const before = snapshot(h.root);
    const r = await cli(['pull', '--all', '--dry-run']);
    expect(r.code, r.err).toBe(0);
    expect(first(r.out)).toBe('dry run: nothing is fetched, moved, pushed or synced');
    expect(r.out.split('\n')[1]).toBe(`${a.agentId}: would seed the empty external remote with main`);
    expect(snapshot(h.root)).toEqual(before);
  });

  it('Letta down: sync gives up after a bounded number of tries and says so; status shows the backoff', async () => {
    const a = await h.addAgent();
    const b = await h.addAgent();
    const dead = await deadUrl();
    expect((await cli(['init', '--server', '--memfs-root', h.memfsRoot, '--remote', remote(), '--letta-url', dead])).code).toBe(0);
    for (const r of [a, b]) await serverEdit(r.gitDir, { label: 'system/human', content: 'edited\n' });
    await clientPush(h.extPath(a.agentId), path.join(h.root, 'c1'), 'system/persona.md', 'client\n');
    const r = await cli(['sync', '--all', '--force']);
    expect(r.code).toBe(1);
    const lines = r.out.trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l).toMatch(new RegExp(`^agent-\\S+: sync failed \\(stays pending\\): cannot reach Letta at ${dead}: ECONNREFUSED \\(gave up after 3 tries\\) \\(fix: start the Letta server`));
    const st = await cli(['status', '--server']);
    expect(st.out).toMatch(/PENDING [0-9a-f]{12} \(1 tries\), (backing off: next retry in \d+ s|retry due now)/);
    // The backoff is recorded, so background retries (watch) honour it and status can show it.
    const rows = JSON.parse((await cli(['status', '--server', '--json'])).out) as { pending: { retryAfter: string }; lastError: { at: string } }[];
    for (const row of rows) expect(Date.parse(row.pending.retryAfter) - Date.parse(row.lastError.at)).toBeGreaterThanOrEqual(4000);
  });

  it('watch --once: exit 1 on failed syncs, one failure line each; logs timestamped and folded into one line per shared cause', async () => {
    const a = await h.addAgent();
    const b = await h.addAgent();
    const dead = await deadUrl();
    expect((await cli(['init', '--server', '--memfs-root', h.memfsRoot, '--remote', remote(), '--letta-url', dead])).code).toBe(0);
    await cli(['pull', '--all', '--no-sync']);
    for (const r of [a, b]) await clientPush(h.extPath(r.agentId), path.join(h.root, `c-${r.agentId}`), 'system/persona.md', 'from the client\n');
    const r = await cli(['watch', '--once']);
    expect(r.code, r.out + r.err).toBe(1);
    expect(first(r.out)).toMatch(/^agent-\S+: sync failed: cannot reach Letta at .*\(fix: /);
    expect(r.out).toMatch(/^2 agents \(0 new\), 2 pulls, .* 2 failures$/m);
    const logs = r.err.trim().split('\n');
    for (const l of logs) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z letta-memfs-hooks: /);
    expect(logs.filter((l) => l.includes('cannot reach Letta'))).toHaveLength(1);
    expect(r.err).toMatch(/: 2 agents \(periodic\): fast-forward; sync failed: cannot reach Letta/);

    const j = await cli(['watch', '--once', '--log-format', 'json']);
    expect(j.code).toBe(1);
    for (const l of j.err.trim().split('\n')) expect(JSON.parse(l)).toMatchObject({ time: expect.stringMatching(/Z$/), level: expect.any(String), msg: expect.any(String) });
  });
});

describe('uninstall --server', () => {
  it('removes tracking refs and pending-sync state, so status is clean', async () => {
    const a = await h.addAgent();
    expect((await init()).code).toBe(0);
    expect((await cli(['pull', '--all'])).code).toBe(0);
    await serverEdit(a.gitDir, { label: 'system/human', content: 'unsynced\n' });
    const u = await cli(['uninstall', '--server', '--all']);
    expect(u.code, u.err).toBe(0);
    expect(first(u.out)).toBe(`${a.agentId}: restored`);
    const st = await cli(['status', '--server']);
    expect(st.code, st.out).toBe(0);
    expect(st.out).not.toMatch(/PENDING/);
    expect(st.out).toMatch(/repo\.git main [0-9a-f]{12} {3}external main - /);
    expect(st.out).toContain('0 pending sync(s), 0 conflict ref(s)');
    const again = await cli(['uninstall', '--server', '--all']);
    expect(again.code).toBe(0);
    expect(first(again.out)).toBe(`${a.agentId}: nothing to uninstall`);
  });
});

describe('doctor (server role)', () => {
  it('accepts --letta-url, the flag it suggests; a server answering 404 on /v1/health/ is "not a Letta server"', async () => {
    await h.addAgent();
    expect((await init()).code).toBe(0);
    const other = http.createServer((_q, s) => s.writeHead(404, { 'content-type': 'text/plain' }).end('nope'));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    try {
      const r = await cli(['doctor', '--server', '--letta-url', url]);
      expect(r.code).toBe(1);
      expect(r.out).toContain(`FAIL Letta reachable: ${url} is not a Letta server (GET /v1/health/ answered HTTP 404, no version) (fix: point --letta-url (lettaUrl) at the Letta server (default port 8283))`);
      expect(r.out).not.toMatch(/sync endpoint/);
    } finally {
      await new Promise<void>((r) => other.close(() => r()));
    }
  });

  it('Letta without the endpoint: Letta is recognised by its version, the endpoint check fails with the patch fix', async () => {
    await h.addAgent();
    expect((await init()).code).toBe(0);
    await h.letta.setMode('patch-missing');
    const r = await cli(['doctor', '--server']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^ok {3}Letta reachable: Letta 0\.16\.7 at http/m);
    expect(r.out).toMatch(/^FAIL sync endpoint: missing \(HTTP 404 Not Found\); stock mode is what fits this server \(fix: Letta without the endpoint: apply the server patch .+, or re-run .+ init --server --mode stock/m);
    // Without the endpoint, doctor also asks whether serve answers behind Letta's /v1/git/ (the double has no proxy).
    expect(r.out).toMatch(/^FAIL serve behind Letta's \/v1\/git\/: refused \(HTTP 404/m);
  });

  it('stock mode: the sync endpoint is not needed', async () => {
    await h.addAgent();
    await h.letta.setMode('patch-missing');
    expect((await init()).code).toBe(0);
    const r = await cli(['doctor', '--server']);
    expect(r.out).toMatch(/^ok {3}server mode: stock: external commits are pushed through Letta's \/v1\/git\/ \(sync endpoint missing\)$/m);
    expect(r.out).not.toMatch(/sync endpoint:/);
  });
});

describe('server mode', () => {
  it('init --server detects it (endpoint missing: stock; present: patched), records it, and status shows it', async () => {
    await h.addAgent();
    await h.letta.setMode('patch-missing');
    const stock = await init();
    expect(stock.code, stock.err).toBe(0);
    expect(stock.out).toContain('server mode stock (detected: Letta 0.16.7 without the sync-from-git endpoint)');
    const file = JSON.parse(await fs.readFile(path.join(h.memfsRoot, '.letta-memfs-hooksrc.json'), 'utf8'));
    expect(file.serverMode).toBe('stock');
    const st = await cli(['status', '--server', '--json']);
    expect((JSON.parse(st.out) as { mode: string }[]).map((s) => s.mode)).toEqual(['stock']);
    expect((await cli(['status', '--server'])).out).toMatch(/server mode stock \(external commits pushed through Letta's \/v1\/git\/\)\n$/);

    // A re-run keeps the recorded mode whatever the server shows now; --mode changes it.
    await h.letta.setMode('ok');
    expect((await init()).out).toContain('server mode stock (recorded earlier)');
    expect((await init('--mode', 'patched')).out).toContain('server mode patched (--mode)');
    expect((await cli(['status', '--server'])).out).toMatch(/server mode patched \(the sync-from-git endpoint\)\n$/);
  });

  it('LETTA_MEMFS_SERVER_MODE sets the mode over detection (a container sets it once); a bad value is exit 2, nothing written', async () => {
    await h.addAgent();
    await h.letta.setMode('ok'); // the endpoint answers: detection alone would say patched
    const calls = h.letta.calls.length;
    const r = await cli(['init', '--server', '--memfs-root', h.memfsRoot, '--remote', remote(), '--letta-url', h.letta.url], { LETTA_MEMFS_SERVER_MODE: 'stock' });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('server mode stock (LETTA_MEMFS_SERVER_MODE)');
    expect(h.letta.calls.length).toBe(calls); // not asked
    expect((await cli(['status', '--server', '--json'], { LETTA_MEMFS_SERVER_MODE: 'stock' })).out).toContain('"mode": "stock"');

    const before = snapshot(h.memfsRoot);
    const bad = await cli(['init', '--server', '--memfs-root', h.memfsRoot, '--remote', remote(), '--letta-url', h.letta.url], { LETTA_MEMFS_SERVER_MODE: 'stok' });
    expect(bad.code).toBe(2);
    expect(bad.err.trim().split('\n')).toHaveLength(1);
    expect(bad.err).toMatch(/serverMode.*stock or patched/);
    expect(snapshot(h.memfsRoot)).toEqual(before);
  });

  it('a Letta that cannot be asked records nothing and says so; a bad --mode is exit 2 with one line, nothing written', async () => {
    await h.addAgent();
    const r = await cli(['init', '--server', '--memfs-root', h.memfsRoot, '--remote', remote(), '--letta-url', await deadUrl()]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/server mode patched \(not detected: .*ECONNREFUSED; patched applies, pass --mode stock for an unpatched Letta\)/);
    expect(JSON.parse(await fs.readFile(path.join(h.memfsRoot, '.letta-memfs-hooksrc.json'), 'utf8')).serverMode).toBeUndefined();

    const before = snapshot(h.memfsRoot);
    const bad = await init('--mode', 'stockk');
    expect(bad.code).toBe(2);
    expect(bad.err.trim().split('\n')).toHaveLength(1);
    expect(bad.err).toMatch(/"serverMode" must be stock or patched \(fix: set "serverMode" to stock or patched\)|--mode/);
    expect(snapshot(h.memfsRoot)).toEqual(before);
  });

  it('stock mode: sync makes no call, only records main as what Letta holds; sync --force is exit 2', async () => {
    const a = await h.addAgent();
    expect((await init('--mode', 'stock')).code).toBe(0);
    // main moved by a commit Letta did not make (patched mode would call sync-from-git for it).
    const env = { ...process.env, GIT_AUTHOR_NAME: 'Client', GIT_AUTHOR_EMAIL: 'client@example.com', GIT_COMMITTER_NAME: 'Client', GIT_COMMITTER_EMAIL: 'client@example.com' };
    const gitIn = (...args: string[]) => execFileSync('git', [`--git-dir=${a.gitDir}`, ...args], { env, encoding: 'utf8' }).trim();
    const moveMain = (hooks: boolean) => {
      const next = gitIn('commit-tree', 'HEAD^{tree}', '-p', 'HEAD', '-m', 'client edit');
      gitIn(...(hooks ? [] : ['-c', 'core.hooksPath=/dev/null']), 'update-ref', 'refs/heads/main', next);
      return next;
    };
    moveMain(false);
    const r = await cli(['sync', '--all']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`${a.agentId}: acknowledged without a call`);
    // The hooks run the same sync: mark only.
    const next = moveMain(true);
    for (let i = 0; i < 100 && (await readSyncState(a.gitDir)).lastSynced !== next; i++) await new Promise((res) => setTimeout(res, 100));
    expect((await readSyncState(a.gitDir)).lastSynced).toBe(next);
    expect(h.letta.calls).toHaveLength(0);
    const st = JSON.parse((await cli(['status', '--server', '--json'])).out) as { pending?: unknown }[];
    expect(st[0].pending).toBeUndefined();
    const force = await cli(['sync', '--all', '--force']);
    expect(force.code).toBe(2);
    expect(force.err).toMatch(/^letta-memfs-hooks: sync --force needs the sync-from-git endpoint; the server mode is stock \(fix: .+\)\n$/);
    expect(h.letta.calls).toHaveLength(0);
  });
});
