/** `watch` as the operator runs it: one process, server edits pushed out, new agents set up, clean SIGTERM. */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { signPoke } from '../../src/sync/poke-signature.js';
import { readSyncState } from '../../src/server/letta/sync-state.js';
import { g, serverEdit } from '../fixtures/server-repo.js';
import { CLI } from '../helpers/cli.js';
import { clientPush, type Harness, makeHarness, rev } from './harness.js';

const SECRET = 'watch-secret-123';

let h: Harness;
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(async () => h.cleanup());

async function waitFor(what: string, cond: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

it('pushes server edits out, sets up new agents, answers pokes, and exits 0 on SIGTERM', async () => {
  const a = await h.addAgent();
  await fs.writeFile(
    path.join(h.memfsRoot, '.letta-memfs-hooksrc.json'),
    JSON.stringify({ remote: `${h.extRoot}/{agentId}.git`, lettaUrl: h.letta.url, syncRetries: 1, webhookPort: 0 }),
  );
  const child = spawn(process.execPath, [CLI, 'watch', '--memfs-root', h.memfsRoot, '--interval', '3600', '--rescan', '0.5'], {
    env: { ...process.env, LETTA_MEMFS_WEBHOOK_SECRET: SECRET, LETTA_MEMFS_INTERNAL: undefined },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  try {
    // Startup: the agent that init never saw is set up and seeds its empty external repo.
    await waitFor('seed', async () => (await rev(h.extPath(a.agentId), 'main')) === (await rev(a.gitDir, 'main')));
    expect((await fs.stat(path.join(a.gitDir, 'hooks', 'reference-transaction'))).mode & 0o111).not.toBe(0);

    // A Letta server edit (no hook runs): watch sees the ref file change and pushes it, without a sync call.
    const s1 = await serverEdit(a.gitDir, { label: 'system/persona', content: 'edited in the ADE\n' });
    await waitFor('server edit pushed', async () => (await rev(h.extPath(a.agentId), 'main')) === s1);
    await waitFor('server edit acknowledged', async () => (await readSyncState(a.gitDir)).lastSynced === s1);
    expect(h.letta.calls).toHaveLength(0);

    // A new agent created while watch runs.
    const b = await h.addAgent();
    await waitFor('new agent seeded', async () => (await rev(h.extPath(b.agentId), 'main')) === (await rev(b.gitDir, 'main')));

    // A client push and a signed poke: one sync.
    // The "watching ..." line comes once the startup cycle is done, which may be after the seeds above.
    await waitFor('startup line', async () => /webhooks on http:\/\/[^:]+:\d+/.test(log));
    const port = Number(/webhooks on http:\/\/[^:]+:(\d+)/.exec(log)?.[1]);
    expect(port).toBeGreaterThan(0);
    const pushed = await clientPush(h.extPath(b.agentId), path.join(h.root, 'cb'), 'system/human.md', 'poked\n');
    const r = await request(`http://127.0.0.1:${port}/poke/${b.agentId}`, { method: 'POST', headers: signPoke(SECRET, b.agentId) });
    expect(r.statusCode).toBe(202);
    await r.body.text();
    await waitFor('poke pulled and synced', async () => (await readSyncState(b.gitDir)).lastSynced === pushed);
    expect(h.letta.calls.map((c) => [c.agentId, c.head])).toEqual([[b.agentId, pushed]]);
    expect(await g(h.root, [`--git-dir=${b.gitDir}`, 'rev-parse', 'main'])).toBe(pushed);
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
  expect(log).toMatch(/SIGTERM: finishing running pulls, then exiting/);
}, 90_000);
