// A push through `serve` that moves main reaches the external host (the letta-memfs remote init --server set up,
// basic auth with the token from the env) without watch running; with the host down the push still succeeds and
// the commit is delivered once the host is back. Real processes: serve, the git host, git clients.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { startGitHost, type GitHost } from '../fixtures/git-host.js';
import { startHostApi } from '../fixtures/host-api.js';
import { createServerRepo } from '../fixtures/server-repo.js';
import { runCli } from '../helpers/cli.js';
import { sh, tempDir } from '../helpers/repo.js';
import { gitClient, newAgentId, startService, type Service } from './fixture.js';
import { until as untilOr } from '../helpers/until.js';

const TOKEN = 'mirror-host-token-5d1e7a90';
let t: { dir: string; cleanup: () => void };
let host: GitHost | undefined;
let svc: Service | undefined;

beforeEach(() => {
  t = tempDir('lmh-mirror-');
});
afterEach(async () => {
  await svc?.stop();
  await host?.close();
  t.cleanup();
});

const until = <T>(what: string, fn: () => T | undefined, ms = 60_000) => untilOr(what, fn, ms, () => svc?.log().slice(-3000) ?? '');

function hostMain(name: string): string | undefined {
  try {
    return host!.git(name, ['rev-parse', '--verify', '-q', 'refs/heads/main']) || undefined;
  } catch {
    return undefined;
  }
}

/** Commits one file in the clone and pushes it through serve; returns the pushed commit. */
async function push(clone: string, file: string, text: string): Promise<string> {
  fs.mkdirSync(path.dirname(path.join(clone, file)), { recursive: true });
  fs.writeFileSync(path.join(clone, file), `---\ndescription: ${file}\n---\n${text}\n`);
  sh(clone, ['add', '-A']);
  sh(clone, ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', `edit ${file}`]);
  const r = await gitClient(clone, ['push', '-q', 'origin', 'HEAD:main']);
  expect(r.code, r.err).toBe(0);
  return sh(clone, ['rev-parse', 'HEAD']);
}

it('mirrors a pushed main at once; with the host down the push succeeds and is delivered when it is back', async () => {
  const root = path.join(t.dir, 'memfs');
  const hostRoot = path.join(t.dir, 'host');
  fs.mkdirSync(hostRoot);
  host = await startGitHost({ token: TOKEN, root: hostRoot });
  const agent = newAgentId();
  await createServerRepo(root, agent);
  const name = `agents/${agent}.git`;
  await host.createRepo(name);
  const init = runCli(['init', '--server', '--memfs-root', root, '--remote', `${host.url}/agents/{agentId}.git`], { cwd: t.dir, env: { LETTA_MEMFS_GIT_TOKEN: TOKEN } });
  expect(init.code, init.err).toBe(0);
  // An agent Letta created after init --server: nowhere to mirror to, said once.
  const bare = newAgentId();
  await createServerRepo(root, bare);

  svc = await startService({ root, env: { LETTA_MEMFS_GIT_TOKEN: TOKEN } });
  for (const [id, dir] of [[agent, 'c'], [bare, 'b']]) {
    const r = await gitClient(t.dir, ['clone', '-q', svc.base(id), dir]);
    expect(r.code, r.err).toBe(0);
  }
  const clone = path.join(t.dir, 'c');

  // Up: the pushed commit is the host's main soon after the push, with no watch running.
  const first = await push(clone, 'system/human.md', 'Ada, mirrored');
  await until('the host has the first push', () => (hostMain(name) === first ? true : undefined));
  const seeded = `${agent}: mirrored main ${first.slice(0, 12)} to the external host (seed)`;
  await until('the mirror log line', () => (svc!.log().includes(seeded) ? true : undefined));

  // Down: pushes still succeed (the mirror never holds the response); the failure is logged with a retry.
  const port = Number(new URL(host.url).port);
  await host.close();
  host = undefined;
  const second = await push(clone, 'notes/a.md', 'while the host is down');
  await until('a failed mirror', () => (/mirror failed, retrying in \d+ s/.test(svc!.log()) ? true : undefined));
  const third = await push(clone, 'notes/b.md', 'still down');

  // Back at the same URL: the retry delivers the latest main, and with it every push before it.
  host = await startGitHost({ token: TOKEN, root: hostRoot, port });
  const delivered = await until('the host has the last push', () => (hostMain(name) === third ? third : undefined));
  expect(host.git(name, ['merge-base', '--is-ancestor', second, delivered])).toBe('');
  expect(host.git(name, ['merge-base', '--is-ancestor', first, delivered])).toBe('');

  // The repo init --server never saw: its pushes land, no mirror, one note however many pushes.
  const b = path.join(t.dir, 'b');
  await push(b, 'system/human.md', 'one');
  await push(b, 'system/human.md', 'two');
  await until('the note', () => (svc!.log().includes(`${bare}: no mirror`) ? true : undefined));
  // A mirror of the other agent, debounced like b's second one and started after it: by then b's has run.
  const fourth = await push(clone, 'notes/c.md', 'after b');
  await until('the host has the fourth push', () => (hostMain(name) === fourth ? true : undefined));
  expect(svc.log().split(`${bare}: no mirror to the external host: repo.git is not set up for the server role`).length).toBe(2);
  expect(fs.existsSync(host.repoPath(`agents/${bare}.git`))).toBe(false);
  expect(svc.log()).not.toContain(TOKEN);
});

it("createRepos: serve's mirror creates the repo of an agent missing on the host (Gitea API double) and seeds it", async () => {
  const root = path.join(t.dir, 'memfs');
  host = await startGitHost({ token: TOKEN, root: path.join(t.dir, 'host') });
  const api = await startHostApi({ kind: 'gitea', gitHost: host, token: TOKEN, login: 'alice', orgs: ['agents'] });
  try {
    const agent = newAgentId();
    await createServerRepo(root, agent);
    const name = `agents/${agent}.git`;
    // Set up with creation off (the repo stays missing); serve runs with it on.
    const init = runCli(['init', '--server', '--memfs-root', root, '--remote', `${host.url}/agents/{agentId}.git`, '--host-api-url', api.url], { cwd: t.dir, env: { LETTA_MEMFS_GIT_TOKEN: TOKEN } });
    expect(init.code, init.err).toBe(0);
    expect(fs.existsSync(host.repoPath(name))).toBe(false);
    svc = await startService({ root, env: { LETTA_MEMFS_GIT_TOKEN: TOKEN, LETTA_MEMFS_CREATE_REPOS: 'gitea' } });
    const r = await gitClient(t.dir, ['clone', '-q', svc.base(agent), 'c']);
    expect(r.code, r.err).toBe(0);
    const pushed = await push(path.join(t.dir, 'c'), 'system/human.md', 'to a repo nobody made');
    await until('the host has the push', () => (hostMain(name) === pushed ? true : undefined));
    expect(api.created).toEqual([name.slice(0, -4)]);
    expect(api.exchanges.find((x) => x.method === 'POST')).toMatchObject({ path: '/orgs/agents/repos', requestBody: { name: agent, private: true }, status: 201 });
    expect(svc.log()).not.toContain(TOKEN);
  } finally {
    await api.close();
  }
});
