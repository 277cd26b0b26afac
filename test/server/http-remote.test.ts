/** The server role against a real smart-HTTP git host with basic auth (git http-backend), not a local path. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
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
