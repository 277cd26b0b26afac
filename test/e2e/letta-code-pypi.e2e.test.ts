// Real Letta Code from PyPI (0.33.8 and 0.34.12, each with its bundled node) in the client role against one real,
// unpatched Letta server of this run's version: a server agent's checkout, redirected by our `init` to the external
// host (basic-auth git http-backend). Its own `memory pull` brings the host's commits (our post-merge fires on the
// fast-forward), a commit its own pre-commit accepted is pushed with its exact push argv to the host (our pre-push
// checks it), and the redirect, hooks and token survive its origin repair and hook rewrite.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { basicAuth, type GitHost, startGitHost } from '../fixtures/git-host.js';
import { type LettaCodePypi, lettaCodePypi } from '../fixtures/letta-code-pypi.js';
import { cliOk, runCli } from './helpers/cli.js';
import { lettaVersion } from './helpers/env.js';
import { blockFile, git } from './helpers/repo.js';
import { Rest } from './helpers/rest.js';
import { LettaServer } from './helpers/server.js';
import { LC_ARGS, LC_ENV, LETTA_KEY } from './helpers/stock.js';

const VERSIONS = ['0.33.8', '0.34.12'];
const TOKEN = 'pypi-e2e-host-token-8c1d';
const version = lettaVersion();

let server: LettaServer;
let host: GitHost;
let api: Rest;
const releases = new Map<string, LettaCodePypi>();
const scratch: string[] = [];

beforeAll(async () => {
  for (const v of VERSIONS) releases.set(v, lettaCodePypi(v));
  // One Letta for both releases (this file's only server).
  [server, host] = await Promise.all([LettaServer.start({ venv: inject('lettaVenv'), name: 'pypi' }), startGitHost({ user: 'git', token: TOKEN })]);
  api = new Rest(server.url);
}, 900_000);

afterAll(async () => {
  await Promise.all([server?.stop(), host?.close()]);
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

/** Lets vitest's worker answer its RPC between long synchronous steps (its calls time out after 60 s). */
const breathe = () => new Promise((r) => setImmediate(r));

const auth = `http.extraHeader=Authorization: ${basicAuth('git', TOKEN)}`;

function write(dir: string, file: string, content: string): void {
  mkdirSync(dirname(join(dir, file)), { recursive: true });
  writeFileSync(join(dir, file), content);
}

describe.each(VERSIONS)(`letta ${version}: Letta Code %s (PyPI), a server agent's checkout redirected by init`, (lcVersion) => {
  it('its memory pull brings host commits (post-merge fires), its push lands on the host, the redirect survives', async () => {
    const lc = releases.get(lcVersion)!;
    const agent = await api.createAgent(`pypi-${lcVersion.replace(/\./g, '_')}`); // Letta refuses '.' in names
    // The host starts as a copy of the agent's server repo (what init --server's first push would make it).
    const name = `agents/${agent.id}.git`;
    const url = await host.createRepo(name);
    git(['--git-dir', server.repoGitDir(agent.id), '-c', auth, 'push', '-q', url, 'main']);
    await breathe();

    const home = mkdtempSync(join(tmpdir(), 'letta-e2e-pypi-home-'));
    scratch.push(home);
    const dir = join(home, '.letta', 'agents', agent.id, 'memory');
    mkdirSync(dir, { recursive: true });
    const env: NodeJS.ProcessEnv = {
      HOME: home,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_TERMINAL_PROMPT: '0',
      LETTA_API_KEY: LETTA_KEY,
      LETTA_BASE_URL: server.url,
      LETTA_MEMFS_BASE_URL: server.url,
      LETTA_MEMFS_LOCAL: '1',
      LETTA_MEMFS_GIT_TOKEN: TOKEN,
    };
    // The checkout as Letta Code's clone leaves it (origin = the agent's Letta URL), then our init on it.
    const origin = `${server.url}/v1/git/${agent.id}/state.git`;
    git(['init', '-q', '-b', 'main'], dir);
    git(['remote', 'add', 'origin', origin], dir);
    git(['config', 'letta.agentId', agent.id], dir);
    cliOk(['init', '--yes', '--remote', `${host.url}/agents/{agentId}.git`, '--letta-url', server.url], env, dir);
    host.clearRequests();
    await breathe();

    // Its own pull (pullMemory: origin repair, hook rewrite, pull --ff-only): the host's main arrives.
    const letta = (args: string[]) => lc.run(args, env, home);
    const first = letta(['memory', 'pull', '--agent', agent.id]);
    await breathe();
    expect(first.status, `${first.stdout}${first.stderr}`).toBe(0);
    const hostMain = () => host.git(name, ['rev-parse', 'refs/heads/main']);
    expect(git(['rev-parse', 'HEAD'], dir).trim()).toBe(hostMain());
    expect(readFileSync(join(dir, 'system', 'human.md'), 'utf8')).toContain('Ada');
    expect(git(['config', 'remote.origin.url'], dir).trim()).toBe(origin);
    expect(git(['remote', 'get-url', '--push', 'origin'], dir).trim()).toBe(url);
    expect(existsSync(join(dir, '.git', 'hooks', 'pre-commit'))).toBe(true);

    // Someone else pushes to the host; its pull fast-forwards and our post-merge records it.
    const other = join(home, 'other');
    git(['-c', auth, 'clone', '-q', url, other]);
    write(other, 'system/human.md', blockFile({ description: 'What I know about the human' }, 'Ada lives in Porto.'));
    git(['-c', 'user.name=o', '-c', 'user.email=o@example.invalid', 'commit', '-qam', 'porto'], other);
    git(['-c', auth, 'push', '-q', 'origin', 'main'], other);
    await breathe();
    const stamp = join(dir, '.git', 'letta-memfs', 'last-post-merge');
    const before = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
    const second = letta(['memory', 'pull', '--agent', agent.id]);
    await breathe();
    expect(second.status, `${second.stdout}${second.stderr}`).toBe(0);
    expect(git(['rev-parse', 'HEAD'], dir).trim()).toBe(hostMain());
    expect(readFileSync(join(dir, 'system', 'human.md'), 'utf8')).toContain('Porto');
    expect(statSync(stamp).mtimeMs).toBeGreaterThan(before);

    // The agent's commit through Letta Code's own pre-commit, then its post-turn push argv: the host gets it.
    write(dir, 'system/persona.md', blockFile({ description: 'Who I am' }, 'Careful, and brief.'));
    git(['add', 'system/persona.md'], dir);
    const commit = spawnSync('git', ['-c', 'user.name=Letta Code', '-c', 'user.email=noreply@letta.com', 'commit', '-q', '-m', 'persona', '--', 'system/persona.md'], { cwd: dir, env: { ...process.env, ...env }, encoding: 'utf8' });
    expect(commit.status, commit.stderr).toBe(0);
    const head = git(['rev-parse', 'HEAD'], dir).trim();
    const push = spawnSync('git', [...LC_ARGS, 'push', '-u', 'origin', 'main'], {
      cwd: dir,
      env: { ...process.env, ...env, ...LC_ENV },
      encoding: 'utf8',
    });
    expect(push.status, push.stderr).toBe(0);
    expect(hostMain()).toBe(head);
    await breathe();

    // The host never saw the Letta key; status still sees the redirect, our hooks and the current token.
    const key = Buffer.from(`letta:${LETTA_KEY}`).toString('base64');
    for (const q of host.requests) expect(JSON.stringify(q.rawHeaders)).not.toContain(key);
    const st = runCli(['status', '--json'], env, dir);
    expect(st.code, st.stdout + st.stderr).toBe(0);
    const s = JSON.parse(st.stdout);
    expect(s.redirected).toBe(true);
    expect(s.hooks.every((h: { state: string }) => h.state === 'installed')).toBe(true);
    expect(s.auth.token).toBe('current');
    // Our pre-push validated that push (node's record of it) and let it through.
    expect(s.lastPush).toMatchObject({ refused: false });
    expect(s.lastPush.url).toContain(`/agents/${agent.id}.git`);
  }, 300_000);
});
