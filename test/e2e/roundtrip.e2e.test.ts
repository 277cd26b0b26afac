// Round trips through the toolkit against a real patched letta server and a real git host (git http-backend):
//   in:  client checkout (init) -> push to the host -> server `pull` -> sync-from-git -> block over REST
//   out: block edited over REST -> server commit in repo.git -> `pull` pushes it to the host -> client `git pull`
// plus faults (server down while changes arrive) and a binary file forced past pre-push.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startGitHost, type GitHost } from '../fixtures/git-host.js';
import { CliProcess, cliOk, runCli } from './helpers/cli.js';
import { Client } from './helpers/client.js';
import { lettaVersion } from './helpers/env.js';
import { blockFile } from './helpers/repo.js';
import { Rest } from './helpers/rest.js';
import { LettaServer } from './helpers/server.js';

const version = lettaVersion();
const TOKEN = `tok-${Math.random().toString(36).slice(2)}`;
// This server runs in secure mode: the toolkit must send the password (from LETTA_SERVER_PASSWORD) on every call.
const PASSWORD = `pw-${Math.random().toString(36).slice(2)}`;
let server: LettaServer;
let host: GitHost;
let api: Rest;
const scratch: string[] = [];

beforeAll(async () => {
  [server, host] = await Promise.all([
    LettaServer.start({ venv: inject('lettaVenv'), patchedDir: inject('lettaPatched'), name: 'roundtrip', password: PASSWORD }),
    startGitHost({ user: 'git', token: TOKEN }),
  ]);
  api = new Rest(server.url, PASSWORD);
});

afterAll(async () => {
  await Promise.all([server?.stop(), host?.close()]);
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

/** Settings for the toolkit on the server side, as an operator would export them. */
function serverEnv(): NodeJS.ProcessEnv {
  return {
    LETTA_MEMFS_ROOT: server.memfsRoot,
    LETTA_MEMFS_GIT_URL: `${host.url}/agents/{agentId}.git`,
    LETTA_BASE_URL: server.url,
    LETTA_MEMFS_GIT_TOKEN: TOKEN,
    LETTA_SERVER_PASSWORD: PASSWORD,
  };
}

function serverPull(agentId: string): { code: number | null; out: any; raw: string } {
  const r = runCli(['pull', '--agent', agentId, '--json'], serverEnv());
  let out: any;
  try {
    out = JSON.parse(r.stdout)[0];
  } catch {
    out = undefined;
  }
  const raw = `${r.stdout}${r.stderr}`;
  // Secrets never reach the toolkit's output.
  expect(raw).not.toContain(PASSWORD);
  expect(raw).not.toContain(TOKEN);
  return { code: r.code, out, raw };
}

/** A git-enabled agent whose repo.git is set up for the server role and seeded to its (empty) external repo. */
async function provisionAgent(name: string): Promise<{ agentId: string; client: Client }> {
  const agent = await api.createAgent(name);
  await host.createRepo(`agents/${agent.id}.git`);
  cliOk(['init', '--server', '--agent', agent.id], serverEnv());
  const seeded = serverPull(agent.id);
  expect(seeded.code, seeded.raw).toBe(0);
  const client = new Client(agent.id, { remote: `${host.url}/agents/{agentId}.git`, lettaUrl: server.url, token: TOKEN });
  scratch.push(client.home);
  client.init();
  return { agentId: agent.id, client };
}

describe(`letta ${version}: secure mode`, () => {
  it('the sync endpoint is behind the server password like every other route', async () => {
    const agent = await api.createAgent('secure');
    const bare = new Rest(server.url);
    expect((await bare.sync(agent.id)).status).toBe(401);
    const wrong = new Rest(server.url, 'not-the-password');
    expect((await wrong.sync(agent.id)).status).toBe(401);
    const r = await api.sync(agent.id);
    expect(r.status, r.text).toBe(200);
    expect(r.text).not.toContain(PASSWORD);
  });
});

describe(`letta ${version}: server set-up`, () => {
  it('init --server sets up an agent repo.git for the server role', async () => {
    const agent = await api.createAgent('init-server');
    await host.createRepo(`agents/${agent.id}.git`);
    const r = runCli(['init', '--server', '--agent', agent.id], serverEnv());
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    const cfg = execFileSync('git', ['--git-dir', server.repoGitDir(agent.id), 'config', '--get', 'gc.auto'], { encoding: 'utf8' }).trim();
    expect(cfg).toBe('0');
    const pulled = serverPull(agent.id);
    expect(pulled.code, pulled.raw).toBe(0);
    expect(host.git(`agents/${agent.id}.git`, ['rev-parse', 'main'])).toBe(
      execFileSync('git', ['--git-dir', server.repoGitDir(agent.id), 'rev-parse', 'main'], { encoding: 'utf8' }).trim(),
    );
  });
});

describe(`letta ${version}: round trip in (client push -> server pull -> Letta)`, () => {
  it('an edit of system/human.md reaches the block with its description and metadata', async () => {
    const { agentId, client } = await provisionAgent('rt-in');
    expect(client.read('system/human.md')).toContain('The human is called Ada.');
    client.write('system/human.md', blockFile({ description: 'Facts about Ada', metadata: { source: 'client' } }, 'Ada moved to Lisbon.'));
    client.git('commit', '-q', '-am', 'human: Lisbon');
    client.git('push', '-q', 'origin', 'main');

    const pulled = serverPull(agentId);
    expect(pulled.code, pulled.raw).toBe(0);
    const human = (await api.blockByLabel(agentId, 'system/human'))!;
    expect(human).toMatchObject({ value: 'Ada moved to Lisbon.', description: 'Facts about Ada', metadata: { source: 'client' } });
    // system/ changed: the prompt was rebuilt with the new value.
    expect(await api.systemPrompt(agentId)).toContain('Ada moved to Lisbon.');
  });

  it('read_only set in git (pushed past the client check by an operator) reaches the block', async () => {
    const { agentId, client } = await provisionAgent('rt-ro');
    client.write('system/persona.md', blockFile({ description: 'Who I am', read_only: true }, 'I am a careful assistant.'));
    client.git('commit', '-q', '-am', 'persona: read only');
    // The client's pre-push refuses read_only changes (it is the server's field); an operator can force it.
    client.git('push', '-q', '--no-verify', 'origin', 'main');
    const pulled = serverPull(agentId);
    expect(pulled.code, pulled.raw).toBe(0);
    expect((await api.blockByLabel(agentId, 'system/persona'))!.read_only).toBe(true);
  });

  it('deleting a file detaches the block; a change outside system/ does not recompile', async () => {
    const { agentId, client } = await provisionAgent('rt-del');
    client.git('rm', '-q', 'system/persona.md');
    client.git('commit', '-q', '-m', 'drop persona');
    client.git('push', '-q', 'origin', 'main');
    expect(serverPull(agentId).code).toBe(0);
    expect((await api.blocks(agentId)).map((b) => b.label)).toEqual(['system/human']);

    const promptBefore = await api.systemPrompt(agentId);
    client.write('notes/todo.md', blockFile({ description: 'Todo' }, 'Buy milk.'));
    client.git('add', 'notes/todo.md');
    client.git('commit', '-q', '-m', 'notes');
    client.git('push', '-q', 'origin', 'main');
    const pulled = serverPull(agentId);
    expect(pulled.code, pulled.raw).toBe(0);
    expect(JSON.stringify(pulled.out)).toMatch(/"recompile":\s*false/);
    expect((await api.blockByLabel(agentId, 'notes/todo'))!.value).toBe('Buy milk.');
    expect(await api.systemPrompt(agentId)).toBe(promptBefore);
  });

  it('a binary file forced past pre-push does not break the sync', async () => {
    const { agentId, client } = await provisionAgent('rt-bin');
    client.write('assets/photo.jpg', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x81, 0xfe]));
    client.write('system/human.md', blockFile({ description: 'What I know about the human' }, 'Ada sent a photo.'));
    client.git('add', '-A');
    client.git('commit', '-q', '-m', 'photo');
    client.git('push', '-q', '--no-verify', 'origin', 'main');
    const pulled = serverPull(agentId);
    expect(pulled.code, pulled.raw).toBe(0);
    expect((await api.blockByLabel(agentId, 'system/human'))!.value).toBe('Ada sent a photo.');
    expect(server.log()).toMatch(/Skipping non-UTF-8 file assets\/photo\.jpg/);
  });
});

describe(`letta ${version}: round trip out (REST edit -> repo.git -> watch -> host -> client)`, () => {
  it('a block edited over REST becomes a commit that watch pushes and the client pulls', async () => {
    const { agentId, client } = await provisionAgent('rt-out');
    const watch = await CliProcess.start(['watch', '--no-listen', '--interval', '3600'], serverEnv());
    try {
      const persona = (await api.blockByLabel(agentId, 'system/persona'))!;
      await api.ok('PATCH', `/v1/blocks/${persona.id}`, { value: 'I answer in haiku.' });
      const serverHead = execFileSync('git', ['--git-dir', server.repoGitDir(agentId), 'rev-parse', 'main'], { encoding: 'utf8' }).trim();
      // watch notices main moving (no hook runs for server commits) and pushes it to the external host.
      const deadline = Date.now() + 30_000;
      while (host.git(`agents/${agentId}.git`, ['rev-parse', 'main']) !== serverHead) {
        if (Date.now() > deadline) throw new Error(`watch did not push ${serverHead} within 30 s; watch output:\n${watch.log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await watch.stop();
    }
    expect(watch.log).not.toContain(PASSWORD);
    expect(watch.log).not.toContain(TOKEN);
    client.git('pull', '-q', 'origin', 'main');
    expect(client.read('system/persona.md')).toMatch(/I answer in haiku\.$/);
    expect(client.git('log', '-1', '--format=%s').trim()).toBe('Update system/persona block');
  });
});

describe(`letta ${version}: faults`, () => {
  it('changes that arrive while the server is down are all synced once it is back', async () => {
    const { agentId, client } = await provisionAgent('rt-down');
    await server.stop({ keepData: true });
    try {
      client.write('system/human.md', blockFile({ description: 'v1' }, 'first while down'));
      client.git('commit', '-q', '-am', 'down 1');
      client.git('push', '-q', 'origin', 'main');
      const duringOutage = serverPull(agentId);
      expect(duringOutage.code).not.toBe(0); // the git side moved; the sync could not be delivered
      client.write('system/human.md', blockFile({ description: 'v2' }, 'second while down'));
      client.write('notes/later.md', blockFile({ description: 'later' }, 'later note'));
      client.git('add', '-A');
      client.git('commit', '-q', '-m', 'down 2');
      client.git('push', '-q', 'origin', 'main');
      expect(serverPull(agentId).code).not.toBe(0);
    } finally {
      await server.boot();
    }
    const retried = runCli(['sync', '--pending'], serverEnv());
    expect(retried.code, `${retried.stdout}${retried.stderr}`).toBe(0);
    const blocks = await api.blocks(agentId);
    expect(blocks.find((b) => b.label === 'system/human')).toMatchObject({ value: 'second while down', description: 'v2' });
    expect(blocks.find((b) => b.label === 'notes/later')?.value).toBe('later note');
  });
});
