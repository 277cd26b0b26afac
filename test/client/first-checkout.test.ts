/**
 * A new machine (a fresh HOME with only the host): `init --agent` clones the agent's checkout into Letta Code's
 * place and sets it up; `init --all` clones every agent it can list (the local-backend agents Letta Code has records
 * of here, and with --create-repos the agent repos under the template's owner on the host). Real Letta Code using
 * such a checkout: test/client/first-checkout-letta-code.test.ts (slow).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startHostApi, type HostApi } from '../fixtures/host-api.js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AGENT, AGENT2, cliAsync, clientSuite, gitOk, LETTA_BASE, lettaGit, lettaUrl, sandbox } from './env.js';

const USER = 'memfs-bot';
const TOKEN = 'first-checkout-token-81c2';
const suite = clientSuite(USER, TOKEN);
const LOCAL_A = 'agent-local-0b7c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3';
const LOCAL_B = 'agent-local-1c8d2e3f-4051-4b6c-9d7e-8f90a1b2c3d4';

let api: HostApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});


const seed = (id: string) => ({ files: { 'system/human.md': `---\ndescription: About the human\n---\nfor ${id}\n` } });

it('init --agent outside any checkout clones a server agent into ~/.letta/agents/<id>/memory with its Letta origin, redirected', async () => {
  const sb = sandbox(suite.workspace('lmh-first-'), { LETTA_MEMFS_GIT_TOKEN: TOKEN });
  const url = await suite.host.createRepo(`first/${AGENT}.git`, seed(AGENT));
  const r = await cliAsync(sb, ['init', '--yes', '--git-user', USER, '--letta-url', LETTA_BASE, '--agent', AGENT, '--remote', url.replace(AGENT, '{agentId}')], sb.home);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const dir = path.join(sb.home, '.letta', 'agents', AGENT, 'memory');
  expect(r.stdout).toContain(`set up ${AGENT} in ${dir}\n  checkout  cloned from ${url}\n`);
  expect(gitOk(sb, dir, ['config', 'remote.origin.url'])).toBe(lettaUrl(AGENT));
  expect(gitOk(sb, dir, ['remote', 'get-url', 'origin'])).toBe(url); // as git resolves it: redirected
  expect(gitOk(sb, dir, ['rev-parse', 'HEAD'])).toBe(suite.host.git(`first/${AGENT}.git`, ['rev-parse', 'main']));
  // Letta Code's own pull (its key header, helpers cleared) goes to the host and finds nothing new.
  const pulled = lettaGit(sb, dir, ['pull', '--ff-only', 'origin', 'main']);
  expect(pulled.status, pulled.stderr).toBe(0);
  expect(pulled.stdout).toMatch(/Already up to date/);
  // No token in the clone's config.
  expect(fs.readFileSync(path.join(dir, '.git', 'config'), 'utf8')).not.toContain(TOKEN);
});

it('init --all on a fresh HOME clones the local agents Letta Code has records of and those the host lists; --dry-run only says so', async () => {
  const sb = sandbox(suite.workspace('lmh-first-all-'), { LETTA_MEMFS_GIT_TOKEN: TOKEN });
  for (const id of [LOCAL_A, LOCAL_B]) await suite.host.createRepo(`team/${id}.git`, seed(id));
  await suite.host.createRepo('team/not-an-agent.git', seed('x'));
  // Letta Code's record of LOCAL_A on this machine (named by the id's base64, as 0.34.12 names them); LOCAL_B has none.
  const records = path.join(sb.home, '.letta', 'lc-local-backend', 'agents');
  fs.mkdirSync(records, { recursive: true });
  fs.writeFileSync(path.join(records, `${Buffer.from(LOCAL_A).toString('base64')}.json`), JSON.stringify({ id: LOCAL_A }));
  api = await startHostApi({ kind: 'gitea', gitHost: suite.host, token: TOKEN, login: 'alice', orgs: ['team'] });
  const base = ['init', '--all', '--git-user', USER, '--remote', `${suite.host.url}/team/{agentId}.git`];

  const only = await cliAsync(sb, [...base, '--dry-run'], sb.home);
  expect(only.status, only.stderr).toBe(0);
  expect(only.stdout).toContain(`${LOCAL_A}: would clone from the host into ${path.join(records, '..', 'memfs', LOCAL_A, 'memory')}, then set it up`);
  expect(only.stdout).not.toContain(LOCAL_B);
  expect(fs.existsSync(path.join(sb.home, '.letta', 'lc-local-backend', 'memfs'))).toBe(false);

  const r = await cliAsync(sb, [...base, '--create-repos', 'gitea', '--host-api-url', api.url], sb.home);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  for (const id of [LOCAL_A, LOCAL_B]) {
    const dir = path.join(sb.home, '.letta', 'lc-local-backend', 'memfs', id, 'memory');
    expect(r.stdout).toContain(`${id}: cloned from the host, set up, origin ${suite.host.url}/team/${id}.git (local backend)`);
    expect(gitOk(sb, dir, ['rev-parse', 'HEAD'])).toBe(suite.host.git(`team/${id}.git`, ['rev-parse', 'main']));
    expect(gitOk(sb, dir, ['rev-parse', '@{u}'])).toBe(gitOk(sb, dir, ['rev-parse', 'HEAD']));
    expect(fs.readFileSync(path.join(dir, 'system', 'human.md'), 'utf8')).toContain(`for ${id}`);
  }
  expect(r.stdout).toContain('2 checkout(s), 2 set up, 0 already set up, 0 failed');
  expect(api.exchanges.map((x) => `${x.method} ${x.path.replace(/\?.*/, '')}`)).toContain('GET /orgs/team/repos');

  // A re-run finds both set up and clones nothing.
  const again = await cliAsync(sb, [...base, '--create-repos', 'gitea', '--host-api-url', api.url], sb.home);
  expect(again.status, again.stderr).toBe(0);
  expect(again.stdout).toContain('2 checkout(s), 0 set up, 2 already set up, 0 failed');
});

it("init --all clones the server agents with git memory that Letta's REST list names; one with no repo on the host is skipped, not failed", async () => {
  const sb = sandbox(suite.workspace('lmh-first-letta-'), { LETTA_MEMFS_GIT_TOKEN: TOKEN, LETTA_API_KEY: 'sk-let-list-key-4411' });
  await suite.host.createRepo(`srv/${AGENT}.git`, seed(AGENT));
  const seen: { url: string; auth?: string }[] = [];
  const letta = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', auth: req.headers.authorization });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(req.url?.startsWith('/v1/agents/?') ? [{ id: AGENT, tags: ['git-memory-enabled'] }, { id: AGENT2, tags: ['git-memory-enabled'] }] : {}));
  });
  await new Promise<void>((r) => letta.listen(0, '127.0.0.1', r));
  const lettaBase = `http://127.0.0.1:${(letta.address() as AddressInfo).port}`;
  try {
    const r = await cliAsync(sb, ['init', '--all', '--git-user', USER, '--letta-url', lettaBase, '--remote', `${suite.host.url}/srv/{agentId}.git`], sb.home);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(seen[0]).toEqual({ url: '/v1/agents/?tags=git-memory-enabled&limit=100', auth: 'Bearer sk-let-list-key-4411' });
    const dir = path.join(sb.home, '.letta', 'agents', AGENT, 'memory');
    expect(r.stdout).toContain(`${AGENT}: cloned from the host, set up, 2 Letta URL(s) -> ${suite.host.url}/srv/${AGENT}.git`);
    expect(r.stdout).toContain(`${AGENT2}: not cloned: no repo on the host yet (--create-repos creates it)`);
    expect(r.stdout).toContain('1 checkout(s), 1 set up, 0 already set up, 0 failed, 1 not on the host');
    expect(gitOk(sb, dir, ['config', 'remote.origin.url'])).toBe(lettaUrl(AGENT, lettaBase));
    expect(fs.existsSync(path.join(sb.home, '.letta', 'agents', AGENT2))).toBe(false);
  } finally {
    await new Promise((r) => letta.close(r));
  }
});
