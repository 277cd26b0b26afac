// Stock mode, restarts mid-stream: while a client pushes in a loop through Letta's /v1/git/ proxy (Letta Code's
// argv; a failed push is retried, as a user would), Letta is restarted, then `serve`, then both at once. Afterwards
// every push reported successful is in main, every block matches its file, and the external host has main.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lettaVersion } from './helpers/env.js';
import { blockFile, git } from './helpers/repo.js';
import { lcGit, StockStack, unsynced } from './helpers/stock.js';
import { until } from '../helpers/until.js';

const version = lettaVersion();
const MIN_PUSHES = 20;
let s: StockStack;
const scratch: string[] = [];

beforeAll(async () => {
  s = await StockStack.start('restart');
}, 300_000);

afterAll(async () => {
  await s?.stop();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(`letta ${version} unpatched + serve: restarts while pushes are in flight`, () => {
  it('Letta, then serve, then both restarted: no reported push lost, blocks synced, the host has main', async () => {
    const agentId = await s.provision('restart');
    const tmp = mkdtempSync(join(tmpdir(), 'letta-e2e-restart-'));
    scratch.push(tmp);
    const dir = join(tmp, 'memory');
    const cloned = await lcGit(['clone', '-q', `${s.server.url}/v1/git/${agentId}/state.git`, dir], tmp);
    expect(cloned.code, cloned.err).toBe(0);

    const reported: string[] = [];
    let failed = 0;
    const trace: string[] = [];
    let chaosDone = false;
    let afterChaos = 0;
    const pushes = (async () => {
      for (let i = 0; i < MIN_PUSHES || !chaosDone || afterChaos < 3; i++) {
        mkdirSync(join(dir, 'reference'), { recursive: true });
        writeFileSync(join(dir, `reference/push-${i}.md`), blockFile({ description: `push ${i}` }, `pushed value ${i}`));
        git(['add', '-A'], dir);
        git(['-c', 'commit.gpgsign=false', 'commit', '-q', '-m', `push ${i}`], dir);
        for (let attempt = 1; ; attempt++) {
          const r = await lcGit(['push', '-u', 'origin', 'main'], dir);
          if (r.code === 0) {
            reported.push(git(['rev-parse', 'HEAD'], dir).trim());
            trace.push(`push ${i}: attempt ${attempt}${chaosDone ? ' (after the restarts)' : ''}: ${(r.out + r.err).replace(/\s+/g, ' ').slice(0, 300)}`);
            if (chaosDone) afterChaos++;
            break;
          }
          failed++;
          if (attempt > 400) throw new Error(`push ${i} kept failing: ${r.err}`);
          // Letta Code on a rejection: pull --rebase, push again (syncPendingMemoryCommitsAfterTurn).
          if (/non-fast-forward|fetch first|rejected/i.test(r.err)) await lcGit(['pull', '-q', '--rebase', 'origin', 'main'], dir);
          await sleep(300);
        }
      }
    })();
    const atLeast = (n: number) => until(`${n} pushes reported`, () => (reported.length >= n ? true : undefined), 300_000);
    const chaos = (async () => {
      await atLeast(4);
      await s.server.stop({ keepData: true });
      await s.server.boot();
      await atLeast(reported.length + 4);
      await s.stopServe();
      await s.startServe();
      await atLeast(reported.length + 4);
      await Promise.all([s.server.stop({ keepData: true }), s.stopServe()]);
      await Promise.all([s.server.boot(), s.startServe()]);
      chaosDone = true;
    })();
    await Promise.all([pushes, chaos]);

    const gitDir = s.server.repoGitDir(agentId);
    const missing = () =>
      reported.filter((oid) => {
        try {
          git(['--git-dir', gitDir, 'merge-base', '--is-ancestor', oid, 'main']);
          return false;
        } catch {
          return true;
        }
      });
    // A push a Letta copy-back overwrote is merged back by serve's check (2 s, then every 30 s).
    const lost = await until('every reported push in main', () => (missing().length === 0 ? [] : undefined), 120_000).catch(() => missing());
    console.log(`restarts, letta ${version}: ${reported.length} pushes reported, ${failed} failed attempts retried, missing from main: ${lost.length}`);
    expect(lost).toEqual([]);

    // Letta's post-push syncs run unserialised: a slow one of an older push can detach a newer file's block after
    // the blocks looked right; serve's checks (2 s after pushes settle, then every 30 s) make Letta sync again. So
    // wait for the settled state: every file's block right and every reported push's block present.
    const wrong = async () => {
      const blocks = await s.api.blocks(agentId);
      const labels = blocks.map((b) => b.label);
      const absent = Array.from({ length: reported.length }, (_, i) => `reference/push-${i}`).filter((l) => !labels.includes(l));
      return [...unsynced(gitDir, blocks), ...absent.map((l) => `${l} (no block)`)];
    };
    const left = await until('blocks match files and every pushed file has its block', async () => ((await wrong()).length === 0 ? [] : undefined), 150_000).catch(wrong);
    const diag = () =>
      `${trace.slice(-5).join('\n')}\n--- main:\n${git(['--git-dir', gitDir, 'log', '--format=%h %p %s', '--name-status', '-n', '12', 'main'])}\n--- serve:\n${s.serveLog().slice(-5000)}\n--- letta:\n${s.server.log().split('\n').filter((l) => /sync|push|git|error/i.test(l)).slice(-40).join('\n')}`;
    expect(left, diag()).toEqual([]);

    const main = s.serverMain(agentId);
    await until('the external host has main', () => (s.hostMain(agentId) === main ? true : undefined), 120_000);
    console.log(`restarts, letta ${version}: blocks resynced by serve ${(s.serveLog().match(/Letta synced again/g) ?? []).length} time(s)`);
    expect(s.serveLog()).not.toContain(s.token);
  }, 900_000);
});
