/**
 * createRepos on the server role against doubles of the three hosts' APIs in front of a real git host: init --server
 * creates a missing repo (user or org/namespace), re-runs find it, a pull (the path watch and serve's mirror take)
 * creates one met later and seeds it; refusals and rate limits are one line with the fix. The GitHub double's
 * every request and answer is validated by GitHub's published OpenAPI description.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/cli.js';
import { mergeLayers } from '../../src/core/config/schema.js';
import { setupServer } from '../../src/server/setup/init-server.js';
import { pullAgent } from '../../src/server/repo/pull.js';
import { agentStatus, formatAgentStatus } from '../../src/server/setup/status.js';
import { startGitHost, type GitHost } from '../fixtures/git-host.js';
import { type Kind, startHostApi, type HostApi } from '../fixtures/host-api.js';
import { type Exchange, githubFixture } from '../fixtures/host-api-specs.js';
import { type Harness, makeHarness, rev } from './harness.js';

const TOKEN = 'host-token-5c0ffee1';
const env = { ...process.env, LETTA_MEMFS_GIT_TOKEN: TOKEN };

let validate: (x: Exchange) => string[];
let examples: ReturnType<typeof githubFixture>['examples'];
beforeAll(() => {
  ({ validate, examples } = githubFixture());
}, 120_000);

let host: GitHost;
let api: HostApi | undefined;
let h: Harness;
afterEach(async () => {
  await h?.cleanup();
  await api?.close();
  await host?.close();
  api = undefined;
});

async function start(kind: Kind, remotePath: string, mode?: 'rate-limit' | 'forbidden', create = true) {
  host = await startGitHost({ user: 'git', token: TOKEN });
  api = await startHostApi({ kind, gitHost: host, token: TOKEN, login: 'alice', orgs: ['team', 'team/memory'], mode, examples: kind === 'github' ? examples : undefined });
  h = await makeHarness({ config: { remote: `${host.url}/${remotePath}/{agentId}.git`, ...(create ? { createRepos: kind, hostApiUrl: api.url } : {}) } });
  // process.env carries the token for the server's credential helper.
  process.env.LETTA_MEMFS_GIT_TOKEN = TOKEN;
}
afterAll(() => {
  delete process.env.LETTA_MEMFS_GIT_TOKEN;
});

/** Every exchange the GitHub double had, checked against the spec; the others have no spec we can get. */
function specErrors(kind: Kind): string[] {
  return kind === 'github' ? api!.exchanges.flatMap(validate) : [];
}

describe.each(['github', 'gitea', 'gitlab'] as const)('%s', (kind) => {
  const org = kind === 'gitlab' ? 'team/memory' : 'team';

  it(`init --server creates the missing repo under ${kind === 'gitlab' ? 'a group namespace' : 'an organization'}, private; a re-run finds it; the pull seeds it`, async () => {
    await start(kind, org);
    const a = await h.addAgent({ 'system/human.md': 'hi\n' });
    const first = await setupServer({ config: h.config });
    expect(first.agents.map((x) => x.hostRepo)).toEqual(['created']);
    expect(api!.created).toEqual([`${org}/${a.agentId}`]);
    const post = api!.exchanges.find((x) => x.method === 'POST')!;
    expect(post.path).toBe(kind === 'gitlab' ? '/projects' : '/orgs/team/repos');
    expect(post.requestBody).toMatchObject(kind === 'gitlab' ? { path: a.agentId, visibility: 'private', namespace_id: 3 } : { name: a.agentId, private: true });

    const again = await setupServer({ config: h.config });
    expect(again.agents.map((x) => x.hostRepo)).toEqual(['exists']);
    expect(api!.exchanges.filter((x) => x.method === 'POST')).toHaveLength(1);

    expect((await pullAgent(a, { config: h.config, letta: h.lettaOpts, env, noSync: true })).steps).toEqual(['seed']);
    expect(host.git(`${org}/${a.agentId}.git`, ['rev-parse', 'main'])).toBe(await rev(a.gitDir, 'main'));
    expect(specErrors(kind)).toEqual([]);
    expect(JSON.stringify(api!.exchanges)).not.toContain(TOKEN);
  });

  it("a pull (watch's and serve's mirror's path) creates a repo under the token's own user when it meets it missing", async () => {
    await start(kind, 'alice', undefined, false);
    const a = await h.addAgent({ 'system/human.md': 'hi\n' });
    await setupServer({ config: h.config });
    const off = await pullAgent(a, { config: h.config, letta: h.lettaOpts, env, noSync: true });
    expect(off.error).toMatch(/does not exist on the host .*init --server --create-repos github\|gitea\|gitlab/);
    // status --server names the missing repo and the command that creates it.
    const shown = formatAgentStatus(await agentStatus(a, { config: h.config } as never));
    expect(shown).toContain(`last error    pull: ${a.agentId}: the repo ${host.url}/alice/${a.agentId}.git does not exist on the host`);
    expect(shown).toContain(`init --server --create-repos github|gitea|gitlab`);

    const config = mergeLayers([h.config, { createRepos: kind, hostApiUrl: api!.url }]);
    const on = await pullAgent(a, { config, letta: h.lettaOpts, env, noSync: true });
    expect(on.error).toBeUndefined();
    expect(on.steps).toEqual(['seed']);
    expect(api!.created).toEqual([`alice/${a.agentId}`]);
    expect(api!.exchanges.find((x) => x.method === 'POST')!.path).toBe(kind === 'gitlab' ? '/projects' : '/user/repos');
    expect(host.git(`alice/${a.agentId}.git`, ['rev-parse', 'main'])).toBe(await rev(a.gitDir, 'main'));
    expect(specErrors(kind)).toEqual([]);
  });

  it('a token without the scope, and a rate limit, are one line each with the fix; nothing is set up', async () => {
    await start(kind, org, 'forbidden');
    await h.addAgent();
    const scope = { github: /"repo" scope/, gitea: /write:repository/, gitlab: /api scope/ }[kind];
    const refused = await setupServer({ config: h.config }).catch((e: { message: string; fix: string }) => e);
    expect(refused.message).toMatch(/the token from \$LETTA_MEMFS_GIT_TOKEN may not create .* \(HTTP 403: /);
    expect(refused.fix).toMatch(scope);
    expect(specErrors(kind)).toEqual([]);
    await api!.close();
    api = await startHostApi({ kind, gitHost: host, token: TOKEN, login: 'alice', mode: 'rate-limit', examples: kind === 'github' ? examples : undefined });
    const limited = await setupServer({ config: mergeLayers([h.config, { hostApiUrl: api.url }]) }).catch((e: { message: string; fix: string }) => e);
    expect(limited.message).toMatch(/API rate limit reached trying to read /);
    expect(limited.fix).toMatch(kind === 'gitlab' ? /in 42 s/ : /after 2030-01-01/);
    expect(specErrors(kind)).toEqual([]);
  });
});

it('the GitHub spec check is not vacuous: an answer the spec forbids fails it', () => {
  expect(validate({ method: 'POST', path: '/user/repos', requestBody: { name: 'x', private: 'yes' }, status: 201, responseBody: { name: 'x' } }).length).toBe(2);
  expect(validate({ method: 'GET', path: '/user/repos/x', status: 200 })).toEqual(['GET /user/repos/x: no such operation in the spec']);
});

it('a host that creates repos on push (GitLab) needs no API: the first pull seeds the new repo by pushing', async () => {
  host = await startGitHost({ user: 'git', token: TOKEN, createOnPush: true });
  h = await makeHarness({ config: { remote: `${host.url}/team/{agentId}.git` } });
  process.env.LETTA_MEMFS_GIT_TOKEN = TOKEN;
  const a = await h.addAgent({ 'system/human.md': 'hi\n' });
  await setupServer({ config: h.config });
  const o = await pullAgent(a, { config: h.config, letta: h.lettaOpts, env, noSync: true });
  expect(o.error).toBeUndefined();
  expect(o.steps).toEqual(['seed']);
  expect(host.git(`team/${a.agentId}.git`, ['rev-parse', 'main'])).toBe(await rev(a.gitDir, 'main'));
  expect((await pullAgent(a, { config: h.config, letta: h.lettaOpts, env, noSync: true, alwaysFetch: true })).steps).toEqual([]);
});

it('watch: a new agent created on the running server reaches a repo that did not exist on the host, with no manual step', async () => {
  await start('github', 'team');
  await fs.writeFile(
    path.join(h.memfsRoot, '.letta-memfs-hooksrc.json'),
    JSON.stringify({ remote: h.config.remote, lettaUrl: h.letta.url, syncRetries: 1, webhookPort: 0, createRepos: 'github', hostApiUrl: api!.url }),
  );
  const child = spawn(process.execPath, [CLI, 'watch', '--memfs-root', h.memfsRoot, '--interval', '3600', '--rescan', '0.5'], {
    env: { ...env, LETTA_MEMFS_INTERNAL: undefined },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  child.stdout.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const b = await h.addAgent({ 'system/human.md': 'new\n' });
    const deadline = Date.now() + 30_000;
    let hostMain = '';
    while (Date.now() < deadline) {
      try {
        hostMain = host.git(`team/${b.agentId}.git`, ['rev-parse', 'main']);
        if (hostMain === (await rev(b.gitDir, 'main'))) break;
      } catch {
        // not created or not seeded yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(hostMain).toBe(await rev(b.gitDir, 'main'));
    expect(api!.created).toEqual([`team/${b.agentId}`]);
    // Usually "...; created <url> on the host"; when the scan caught the repo half-written by Letta, the set-up is
    // retried at the next scan and finds the repo its first try created.
    for (let i = 0; i < 50 && !log.includes(`${b.agentId}: new agent repo set up`); i++) await new Promise((r) => setTimeout(r, 100));
    expect(log, log).toContain(`${b.agentId}: new agent repo set up`);
    expect(api!.exchanges.filter((x) => x.method === 'POST')).toHaveLength(1);
    expect(api!.exchanges.flatMap(validate)).toEqual([]);
    expect(log).not.toContain(TOKEN);
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
}, 90_000);
