/** The server role against a real smart-HTTP git host with basic auth (git http-backend), not a local path. */
import { createHmac } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Watcher } from '../../src/server/watch/watcher.js';
import { signPoke } from '../../src/sync/poke-signature.js';
import { setupServer } from '../../src/server/setup/init-server.js';
import { type PullContext, pullAgent } from '../../src/server/repo/pull.js';
import { startGitHost, type GitHost } from '../fixtures/git-host.js';
import { clientPush, type Harness, makeHarness, rev } from './harness.js';

const TOKEN = 'host-token-3f9a1c';
const PW = 'letta-pw-77b2e0';

let host: GitHost;
let h: Harness;
beforeEach(async () => {
  host = await startGitHost({ user: 'git', token: TOKEN });
  h = await makeHarness({ password: PW, config: { remote: `${host.url}/agents/{agentId}.git` } });
});
afterEach(async () => {
  await h.cleanup();
  await host.close();
});

async function grepTree(dir: string, needle: string): Promise<string[]> {
  const hits: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const p = path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    if ((await fs.readFile(p)).includes(needle)) hits.push(p);
  }
  return hits;
}

it('seeds, fast-forwards and syncs over HTTP with the token; idle pulls only read refs; secrets stay where they belong', async () => {
  const a = await h.addAgent();
  await host.createRepo(`agents/${a.agentId}.git`);
  await setupServer({ config: h.config });
  const ctx: PullContext = { config: h.config, letta: h.lettaOpts, env: { ...process.env, LETTA_MEMFS_GIT_TOKEN: TOKEN } };

  expect((await pullAgent(a, ctx)).steps).toEqual(['seed']);
  expect(host.git(`agents/${a.agentId}.git`, ['rev-parse', 'main'])).toBe(await rev(a.gitDir, 'main'));

  const authed = host.repoUrl(`agents/${a.agentId}.git`).replace('http://', `http://git:${TOKEN}@`);
  const pushed = await clientPush(authed, path.join(h.root, 'client'), 'system/human.md', 'over http\n');
  const ff = await pullAgent(a, ctx);
  expect(ff.steps).toEqual(['fast-forward']);
  expect(h.letta.calls).toMatchObject([{ agentId: a.agentId, head: pushed, recompile: true, authorization: `Bearer ${PW}` }]);

  host.clearRequests();
  const idle = await pullAgent(a, ctx);
  expect(idle.steps).toEqual([]);
  expect(host.requests.map((r) => `${r.method} ${r.path}?${r.query}`)).toEqual([`GET /agents/${a.agentId}.git/info/refs?service=git-upload-pack`]);
  expect(h.letta.calls).toHaveLength(1);

  const basic = `Basic ${Buffer.from(`git:${TOKEN}`).toString('base64')}`;
  host.clearRequests();
  await pullAgent(a, { ...ctx, alwaysFetch: true });
  expect(host.requests.length).toBeGreaterThan(0);
  for (const r of host.requests) {
    expect([undefined, basic]).toContain(r.headers.authorization);
    expect(JSON.stringify(r.headers)).not.toContain(PW);
  }
  expect(h.letta.requests.every((r) => !JSON.stringify(r.headers).includes(TOKEN))).toBe(true);
  // Neither secret is written anywhere in repo.git (config, settings, state) or the memfs root.
  expect(await grepTree(h.memfsRoot, TOKEN)).toEqual([]);
  expect(await grepTree(h.memfsRoot, PW)).toEqual([]);

  // A wrong token: the pull fails with the fix, names no secret, and loses nothing.
  const before = await rev(a.gitDir, 'main');
  const bad = await pullAgent(a, { ...ctx, alwaysFetch: true, env: { ...process.env, LETTA_MEMFS_GIT_TOKEN: 'wrong-token-000' } });
  expect(bad.error).toMatch(/fetch from the external remote failed/);
  expect(bad.error).not.toContain('wrong-token-000');
  expect(await rev(a.gitDir, 'main')).toBe(before);
});

it('watch fetches at once on a poke or a webhook, without probing the host; a periodic pull probes first', async () => {
  const SECRET = 'whsec-probe-5c1d';
  // The token under a name of this test's own: the watcher's pulls read it from the process environment.
  const tokenEnv = 'LMH_TEST_HOST_TOKEN_PROBE';
  process.env[tokenEnv] = TOKEN;
  const config = { ...h.config, gitTokenEnv: tokenEnv };
  const a = await h.addAgent();
  await host.createRepo(`agents/${a.agentId}.git`);
  await setupServer({ config });
  // Periodic pulls and ref polling far apart: only the triggers below pull.
  const w = new Watcher({ ctx: { config, memfsRoot: h.memfsRoot, letta: h.lettaOpts }, intervalSeconds: 3600, tickMs: 3_600_000, listen: { host: '127.0.0.1', port: 0 }, secret: SECRET });
  try {
    await w.start();
    await w.idle();
    const repoUrl = host.repoUrl(`agents/${a.agentId}.git`);
    const authed = repoUrl.replace('http://', `http://git:${TOKEN}@`);
    const post = async (p: string, headers: Record<string, string>, body = '') => {
      const r = await request(`http://127.0.0.1:${w.address!.port}${p}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      await r.body.text();
      return r.statusCode;
    };
    // The probe is our own GET of info/refs (probeRemoteMain's user agent); git's fetch sends git's.
    const probes = () => host.requests.filter((r) => String(r.headers['user-agent']).includes('letta-memfs-hooks'));
    const fetched = () => host.requests.some((r) => r.method === 'POST' && r.path.endsWith('/git-upload-pack'));

    const pushed = await clientPush(authed, path.join(h.root, 'client'), 'system/human.md', 'poked\n');
    host.clearRequests();
    expect(await post(`/poke/${a.agentId}`, signPoke(SECRET, a.agentId))).toBe(202);
    await w.idle();
    expect(await rev(a.gitDir, 'main')).toBe(pushed);
    expect(probes()).toEqual([]);
    expect(fetched()).toBe(true);

    const pushed2 = await clientPush(authed, path.join(h.root, 'client'), 'system/human.md', 'webhook\n');
    host.clearRequests();
    const body = JSON.stringify({ ref: 'refs/heads/main', after: pushed2, repository: { clone_url: repoUrl } });
    const sig = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
    expect(await post('/webhook', { 'x-github-event': 'push', 'x-github-delivery': 'gh-probe-1', 'x-hub-signature-256': sig }, body)).toBe(202);
    await w.idle();
    expect(await rev(a.gitDir, 'main')).toBe(pushed2);
    expect(probes()).toEqual([]);
    expect(fetched()).toBe(true);

    // Nothing moved: the periodic pull asks the host once (the probe) and fetches nothing.
    host.clearRequests();
    expect(w.trigger(a.agentId, 'periodic')).toBe(true);
    await w.idle();
    expect(probes()).toHaveLength(1);
    expect(fetched()).toBe(false);
    expect(w.outcomes.map((o) => o.error).filter(Boolean)).toEqual([]);
  } finally {
    await w.stop();
    delete process.env[tokenEnv];
  }
});
