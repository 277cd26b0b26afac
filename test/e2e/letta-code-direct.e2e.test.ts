// Letta Code straight to the server (no client redirect): real Letta Code 0.32.18 with
// LETTA_MEMFS_BASE_URL=<letta server> pulls through Letta's own /v1/git/ proxy from our `serve` on an UNPATCHED
// letta; a push with its exact argv lands, Letta's stock sync updates the blocks, and serve mirrors the commit to
// the external host that `init --server` set up.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLettaCode, type LettaCode } from '../fixtures/letta-code.js';
import { lettaVersion } from './helpers/env.js';
import { blockFile, git } from './helpers/repo.js';
import { LETTA_KEY, lcGit, StockStack, unsynced } from './helpers/stock.js';
import { until } from '../helpers/until.js';

const version = lettaVersion();
let s: StockStack;
let lc: LettaCode;
const scratch: string[] = [];

beforeAll(async () => {
  lc = ensureLettaCode('0.32.18');
  s = await StockStack.start('direct');
}, 900_000);

afterAll(async () => {
  await s?.stop();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

function write(dir: string, file: string, content: string): void {
  mkdirSync(dirname(join(dir, file)), { recursive: true });
  writeFileSync(join(dir, file), content);
}

describe(`letta ${version} unpatched + serve: Letta Code 0.32.18 straight to the server`, () => {
  it('memory pull through the proxy; a push with its argv lands, syncs, and is mirrored to the external host', async () => {
    const agentId = await s.provision('direct');
    const home = mkdtempSync(join(tmpdir(), 'letta-e2e-lc-home-'));
    scratch.push(home);
    const origin = `${s.server.url}/v1/git/${agentId}/state.git`;
    // Letta Code's cloneMemoryRepo (letta.js byte 4806152): `clone <getMemoryRemoteUrl> .` in
    // ~/.letta/agents/<id>/memory, the URL `${LETTA_MEMFS_BASE_URL}/v1/git/<id>/state.git` (getGitRemoteUrl).
    const checkout = join(home, '.letta', 'agents', agentId, 'memory');
    mkdirSync(checkout, { recursive: true });
    const cloned = await lcGit(['clone', origin, '.'], checkout);
    expect(cloned.code, cloned.err).toBe(0);

    // A Letta server commit (REST edit), then the real client's own pull brings it.
    const human = (await s.api.blockByLabel(agentId, 'system/human'))!;
    await s.api.ok('PATCH', `/v1/blocks/${human.id}`, { value: 'Ada, edited over REST.' });
    const env = { ...process.env, HOME: home, LETTA_API_KEY: LETTA_KEY, LETTA_BASE_URL: s.server.url, LETTA_MEMFS_BASE_URL: s.server.url };
    const pull = spawnSync(process.execPath, [lc.entry, 'memory', 'pull', '--agent', agentId], { cwd: home, env, encoding: 'utf8', timeout: 120_000 });
    expect(pull.status, pull.stderr).toBe(0);
    expect((JSON.parse(pull.stdout) as { updated: boolean }).updated).toBe(true);
    expect(readFileSync(join(checkout, 'system/human.md'), 'utf8')).toContain('Ada, edited over REST.');
    // Its origin repair kept the server: no redirect in this topology.
    expect(git(['config', 'remote.origin.url'], checkout).trim()).toBe(origin);

    // The agent's commit (Letta Code's pre-commit hook, just rewritten by the pull, checks it), then its push.
    write(checkout, 'system/human.md', blockFile({ description: 'What I know about the human' }, 'Ada lives in Lisbon.'));
    write(checkout, 'reference/trips.md', blockFile({ description: 'Trips' }, 'Porto in May.'));
    git(['add', '-A'], checkout);
    git(['-c', 'commit.gpgsign=false', 'commit', '-q', '-m', 'memory: Lisbon, trips'], checkout);
    const head = git(['rev-parse', 'HEAD'], checkout).trim();
    // syncPendingMemoryCommitsAfterTurn (byte 4812989): `push -u origin main`.
    const push = await lcGit(['push', '-u', 'origin', 'main'], checkout);
    expect(push.code, push.err).toBe(0);
    expect(s.serverMain(agentId)).toBe(head);

    const gitDir = s.server.repoGitDir(agentId);
    const blocks = await until('blocks synced', async () => {
      const bs = await s.api.blocks(agentId);
      return unsynced(gitDir, bs).length === 0 ? bs : undefined;
    });
    expect(blocks.find((b) => b.label === 'reference/trips')).toMatchObject({ value: 'Porto in May.', description: 'Trips' });
    expect(blocks.find((b) => b.label === 'system/human')?.value).toBe('Ada lives in Lisbon.');

    // serve mirrored the pushed main (no watch runs here); the host never saw the Letta key.
    await until('the external host has the push', () => (s.hostMain(agentId) === head ? true : undefined));
    const b64 = Buffer.from(`letta:${LETTA_KEY}`).toString('base64');
    for (const q of s.host.requests) expect(JSON.stringify(q.rawHeaders)).not.toContain(b64);
    await until('the mirror log line', () => (s.serveLog().includes(`${agentId}: mirrored main ${head.slice(0, 12)}`) ? true : undefined));
    expect(s.serveLog()).not.toContain(s.token);
  }, 300_000);
});
