/**
 * Client `init --create-repos` as a user runs it (the bundled CLI, a temp HOME), against the GitHub API double in
 * front of a real git host: the agent's missing repo is created (private) and Letta Code's push through the
 * redirected origin lands in it; without the flag, init names the missing repo and the command that creates it.
 * Every exchange is validated by GitHub's published OpenAPI description.
 */
import path from 'node:path';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { startHostApi, type HostApi } from '../fixtures/host-api.js';
import { type Exchange, githubFixture } from '../fixtures/host-api-specs.js';
import { AGENT, cliAsync, clientSuite, gitOk, LETTA_BASE, lettaGit, makeCheckout, sandbox, writeFile } from './env.js';

const USER = 'x-access-token';
const TOKEN = 'ghp-fixture-token-9d41';
const suite = clientSuite(USER, TOKEN);

let validate: (x: Exchange) => string[];
let examples: ReturnType<typeof githubFixture>['examples'];
beforeAll(() => {
  ({ validate, examples } = githubFixture());
}, 120_000);

let api: HostApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});


it('init --create-repos github creates the missing repo under the org, private, and Letta Code pushes into it; a re-run finds it', async () => {
  const dir = suite.workspace('lmh-create-');
  const sb = sandbox(dir, { LETTA_MEMFS_GIT_TOKEN: TOKEN });
  const checkout = makeCheckout(sb, path.join(sb.home, '.letta', 'agents', AGENT, 'memory'));
  api = await startHostApi({ kind: 'github', gitHost: suite.host, token: TOKEN, login: 'alice', orgs: ['acme'], examples });
  const args = ['init', '--yes', '--git-user', USER, '--letta-url', LETTA_BASE, '--remote', `${suite.host.url}/acme/{agentId}.git`];

  const off = await cliAsync(sb, args, checkout);
  expect(off.status).toBe(1);
  expect(off.stderr.trim().split('\n')).toHaveLength(1);
  expect(off.stderr).toContain(`the repo ${suite.host.url}/acme/${AGENT}.git does not exist on the host`);
  expect(off.stderr).toContain('init --create-repos github|gitea|gitlab');
  expect(api.exchanges).toEqual([]);

  const on = await cliAsync(sb, [...args, '--create-repos', 'github', '--host-api-url', api.url], checkout);
  expect(on.stderr).toBe('');
  expect(on.status).toBe(0);
  expect(on.stdout).toContain(`  host repo acme/${AGENT} created (private)`);
  expect(api.created).toEqual([`acme/${AGENT}`]);
  expect(api.exchanges.map((x) => `${x.method} ${x.path} ${x.status}`)).toEqual([`GET /repos/acme/${AGENT} 404`, 'GET /user 200', 'POST /orgs/acme/repos 201']);
  expect(api.exchanges[2].requestBody).toMatchObject({ name: AGENT, private: true });
  expect(api.exchanges.flatMap(validate)).toEqual([]);

  // Letta Code's first commit and push, through the Letta URL that init redirected.
  writeFile(checkout, 'system/human.md', '---\ndescription: About the human\n---\nName: Ada\n');
  gitOk(sb, checkout, ['add', '-A']);
  gitOk(sb, checkout, ['commit', '-qm', 'first']);
  const pushed = lettaGit(sb, checkout, ['push', 'origin', 'main']);
  expect(pushed.status, pushed.stderr).toBe(0);
  expect(suite.host.git(`acme/${AGENT}.git`, ['rev-parse', 'main'])).toBe(gitOk(sb, checkout, ['rev-parse', 'HEAD']));

  const again = await cliAsync(sb, [...args, '--create-repos', 'github', '--host-api-url', api.url, '--json'], checkout);
  expect(again.status).toBe(0);
  expect(JSON.parse(again.stdout)).toMatchObject({ hostRepo: { outcome: 'exists', fullName: `acme/${AGENT}` } });
  expect(api.exchanges.filter((x) => x.method === 'POST')).toHaveLength(1);
  expect(api.exchanges.flatMap(validate)).toEqual([]);
  expect(JSON.stringify(api.exchanges)).not.toContain(TOKEN);
});
