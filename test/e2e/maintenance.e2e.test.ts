// repo.git maintenance against a real patched letta server: after many pushes and server edits, `maintain` packs
// and deletes loose objects, and both round trips (client push -> block; REST edit -> external host -> client)
// still work. (No check of the server log for git's ignored-hook hint: Letta runs git with capture_output=True and
// never logs its stderr, git_operations.py @ 0.16.7 `_run_git`, so such a check could not fail; the hint is covered
// in test/server/maintenance.test.ts.)
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startGitHost, type GitHost } from '../fixtures/git-host.js';
import { countObjectFiles } from '../../src/server/repo/maintain-repo.js';
import { agentRepoPath } from '../../src/server/repo/discover.js';
import { cliOk, runCli } from './helpers/cli.js';
import { Client } from './helpers/client.js';
import { lettaVersion } from './helpers/env.js';
import { blockFile } from './helpers/repo.js';
import { Rest } from './helpers/rest.js';
import { DEFAULT_ORG, LettaServer } from './helpers/server.js';

const version = lettaVersion();
const TOKEN = `tok-${Math.random().toString(36).slice(2)}`;
let server: LettaServer;
let host: GitHost;
let api: Rest;
const scratch: string[] = [];

beforeAll(async () => {
  [server, host] = await Promise.all([
    LettaServer.start({ venv: inject('lettaVenv'), patchedDir: inject('lettaPatched'), name: 'maintenance' }),
    startGitHost({ user: 'git', token: TOKEN }),
  ]);
  api = new Rest(server.url);
});

afterAll(async () => {
  await Promise.all([server?.stop(), host?.close()]);
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

const env = (): NodeJS.ProcessEnv => ({
  LETTA_MEMFS_ROOT: server.memfsRoot,
  LETTA_MEMFS_GIT_URL: `${host.url}/agents/{agentId}.git`,
  LETTA_BASE_URL: server.url,
  LETTA_MEMFS_GIT_TOKEN: TOKEN,
});

/** A block edit over REST (a server commit); sent again if the kept-alive connection broke under it (same value). */
async function editBlock(id: string, value: string): Promise<void> {
  try {
    await api.ok('PATCH', `/v1/blocks/${id}`, { value });
  } catch (err) {
    if (!/fetch failed/.test(String(err))) throw err;
    await api.ok('PATCH', `/v1/blocks/${id}`, { value });
  }
}

describe(`letta ${version}: repo.git maintenance`, () => {
  it('packs and deletes loose objects, and the round trips keep working on the packed repo', async () => {
    const agent = await api.createAgent('maintenance');
    await host.createRepo(`agents/${agent.id}.git`);
    cliOk(['init', '--server', '--agent', agent.id], env());
    cliOk(['pull', '--agent', agent.id], env());
    const client = new Client(agent.id, { remote: `${host.url}/agents/{agentId}.git`, lettaUrl: server.url, token: TOKEN });
    scratch.push(client.home);
    client.init();
    const persona = (await api.blockByLabel(agent.id, 'system/persona'))!;
    const human = (await api.blockByLabel(agent.id, 'system/human'))!;
    // Busy history: client pushes pulled in, and server edits (REST -> server commit) pushed out.
    for (let i = 0; i < 4; i++) {
      client.write('system/human.md', blockFile({ description: 'What I know about the human' }, `client ${i}`));
      client.git('commit', '-q', '-am', `client ${i}`);
      client.git('push', '-q', 'origin', 'main');
      await editBlock(persona.id, `server ${i}`);
      cliOk(['pull', '--agent', agent.id], env());
      client.git('pull', '-q', '--rebase', 'origin', 'main');
    }
    const gitDir = agentRepoPath(server.memfsRoot, DEFAULT_ORG, agent.id);
    const before = await countObjectFiles(gitDir);
    expect(before.loose).toBeGreaterThan(20);

    const first = runCli(['maintain', '--agent', agent.id, '--grace', '0'], env());
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/packed into pack-/);
    const second = runCli(['maintain', '--agent', agent.id, '--grace', '0'], env());
    expect(second.code, second.stderr).toBe(0);
    expect(await countObjectFiles(gitDir)).toEqual({ loose: 0, packs: 1 });

    // In: a client push reaches the block.
    client.write('system/human.md', blockFile({ description: 'What I know about the human' }, 'after maintenance'));
    client.git('commit', '-q', '-am', 'after maintenance');
    client.git('push', '-q', 'origin', 'main');
    cliOk(['pull', '--agent', agent.id], env());
    expect((await api.ok('GET', `/v1/blocks/${human.id}`)).value).toBe('after maintenance');
    // Out: a server edit on the packed repo reaches the client.
    await editBlock(persona.id, 'server after maintenance');
    cliOk(['pull', '--agent', agent.id], env());
    client.git('pull', '-q', '--rebase', 'origin', 'main');
    expect(client.read('system/persona.md')).toContain('server after maintenance');

  }, 240_000);
});
