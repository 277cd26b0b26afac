/**
 * The per-agent locks (pull.lock, sync.lock) against what a crash or a container leaves behind: a lock naming a
 * live but unrelated PID, an empty or garbled PID file, a lock whose holder was killed with -9. None blocks `pull`
 * or `sync` beyond the stale period (2 s here, LETTA_MEMFS_LOCK_STALE_SECONDS); two live holders still exclude
 * each other, and a holder that keeps its heartbeat is never taken over.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { lockStaleMs, tryLock, waitLock } from '../../src/core/lock.js';
import { stateDirOf } from '../../src/core/settings.js';
import type { AgentRepo } from '../../src/server/repo/discover.js';
import { clientPush, type Harness, makeHarness, rev } from '../server/harness.js';
import { CLI } from '../helpers/cli.js';
import { expectNoStack, runHostile } from './harness.js';

const STALE = { LETTA_MEMFS_LOCK_STALE_SECONDS: '2' };
// The holders run the lock module bundled from src/ as the runtime bundles it (scripts/build-runtime.mjs), never a
// tsc output that may be older than src/.
let LOCK_JS: string;
beforeAll(async () => {
  LOCK_JS = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lmh-lock-holder-')), 'lock.mjs');
  await build({
    entryPoints: [path.resolve(path.dirname(CLI), '../../src/core/lock.ts')],
    outfile: LOCK_JS,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    banner: { js: "import { createRequire as __lmhRequire } from 'node:module'; const require = __lmhRequire(import.meta.url);" },
    logLevel: 'warning',
  });
});
afterAll(() => fs.rmSync(path.dirname(LOCK_JS), { recursive: true, force: true }));

let h: Harness;
let a: AgentRepo;
const children: ChildProcess[] = [];
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  runHostile([...args, '--memfs-root', h.memfsRoot], { cwd: h.root, env: { ...STALE, ...env }, timeoutMs: 40_000 });
const lockFile = (name: string) => path.join(stateDirOf(a.gitDir), name);

beforeEach(async () => {
  h = await makeHarness();
  a = await h.addAgent();
  fs.writeFileSync(path.join(h.memfsRoot, '.letta-memfs-hooksrc.json'), JSON.stringify({ remote: `${h.extRoot}/{agentId}.git`, lettaUrl: h.letta.url, syncRetries: 1 }));
  const init = await cli(['init', '--server']);
  expect(init.code, init.err).toBe(0);
  // The first pull seeds the empty external repo, so that client pushes below build on the agent's history.
  const seed = await cli(['pull', '--agent', a.agentId]);
  expect(seed.code, seed.err).toBe(0);
});
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await h.cleanup();
});

/** A live process that has nothing to do with us (as a reused PID would be). */
function unrelatedPid(): number {
  const c = spawn('sleep', ['300'], { stdio: 'ignore' });
  children.push(c);
  return c.pid!;
}

/** A node process taking `file` through the built lock module; prints `locked`, holds `holdMs`, releases. */
function holder(file: string, holdMs: number, extra = ''): { child: ChildProcess; locked: Promise<void>; out: () => string } {
  const code = `import { waitLock } from ${JSON.stringify(LOCK_JS)};
    const l = await waitLock(${JSON.stringify(file)}, 30000);
    if (!l) { console.log('not locked'); process.exit(1); }
    console.log('locked');
    ${extra}
    await new Promise((r) => setTimeout(r, ${holdMs}));
    await l.release();
    console.log('released');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, ...STALE }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const locked = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', () => out.includes('locked') && resolve());
    child.on('close', () => reject(new Error(`holder ended: ${out}`)));
  });
  return { child, locked, out: () => out };
}

async function expectPullRuns(): Promise<void> {
  const pushed = await clientPush(h.extPath(a.agentId), path.join(h.root, 'client'), 'system/human.md', 'after the lock\n');
  const r = await cli(['pull', '--agent', a.agentId]);
  expect(r.code, r.err).toBe(0);
  expectNoStack(r.err);
  expect(await rev(a.gitDir, 'main')).toBe(pushed);
}

describe('class 5: a lock left by a crash blocks one stale period at most', () => {
  it('pull.lock naming a live unrelated PID (PID reuse) and a fresh timestamp', async () => {
    fs.writeFileSync(lockFile('pull.lock'), `${unrelatedPid()} ${Date.now()}\n`);
    await expectPullRuns();
  });

  it('pull.lock naming PID 1 (always alive)', async () => {
    fs.writeFileSync(lockFile('pull.lock'), `1 ${Date.now()}\n`);
    await expectPullRuns();
  });

  it('pull.lock naming a live PID with a timestamp in the future', async () => {
    fs.writeFileSync(lockFile('pull.lock'), `${unrelatedPid()} ${Date.now() + 86_400_000}\n`);
    await expectPullRuns();
  });

  it('an empty pull.lock (killed between create and write)', async () => {
    fs.writeFileSync(lockFile('pull.lock'), '');
    await expectPullRuns();
  });

  it('sync.lock naming a live unrelated PID does not hold back the sync of a pull', async () => {
    fs.writeFileSync(lockFile('sync.lock'), `${unrelatedPid()} ${Date.now()}\n`);
    await expectPullRuns();
    expect(h.letta.calls.map((c) => c.head)).toContain(await rev(a.gitDir, 'main'));
  });

  it('a lock whose holder was killed with -9', async () => {
    const hold = holder(lockFile('pull.lock'), 600_000);
    await hold.locked;
    hold.child.kill('SIGKILL');
    await new Promise((r) => hold.child.once('close', r));
    expect(fs.existsSync(lockFile('pull.lock'))).toBe(true);
    await expectPullRuns();
  });

  it('a pull killed with -9 mid-run leaves nothing that blocks the next one', async () => {
    await clientPush(h.extPath(a.agentId), path.join(h.root, 'client'), 'system/a.md', 'a\n');
    const child = spawn(process.execPath, [CLI, 'pull', '--agent', a.agentId, '--memfs-root', h.memfsRoot], { cwd: h.root, env: { ...process.env, ...STALE, XDG_CONFIG_HOME: path.join(h.root, 'xdg') }, stdio: 'ignore' });
    const end = Date.now() + 20_000;
    while (!fs.existsSync(lockFile('pull.lock')) && child.exitCode === null && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    await expectPullRuns();
  });
});

describe('class 5: live holders still exclude each other', () => {
  it('two processes taking the same lock never overlap', async () => {
    const file = path.join(h.root, 'x.lock');
    const trace = path.join(h.root, 'trace');
    const worker = (tag: string) => {
      const code = `import fs from 'node:fs'; import { waitLock } from ${JSON.stringify(LOCK_JS)};
        for (let i = 0; i < 4; i++) {
          const l = await waitLock(${JSON.stringify(file)}, 30000);
          if (!l) process.exit(1);
          fs.appendFileSync(${JSON.stringify(trace)}, '${tag}+');
          await new Promise((r) => setTimeout(r, 150));
          fs.appendFileSync(${JSON.stringify(trace)}, '${tag}-');
          await l.release();
        }`;
      const c = spawn(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, ...STALE }, stdio: 'ignore' });
      children.push(c);
      return new Promise<number | null>((r) => c.on('close', r));
    };
    expect(await Promise.all([worker('A'), worker('B')])).toEqual([0, 0]);
    const steps = fs.readFileSync(trace, 'utf8').match(/[AB][+-]/g)!;
    expect(steps).toHaveLength(16);
    for (let i = 0; i < steps.length; i += 2) expect([steps[i][0], steps[i][1], steps[i + 1][1]]).toEqual([steps[i + 1][0], '+', '-']);
  }, 60_000);

  it('a holder past the stale period keeps its lock (heartbeat); the lock is free once it lets go', async () => {
    const file = path.join(h.root, 'y.lock');
    const hold = holder(file, 5_000);
    await hold.locked;
    await new Promise((r) => setTimeout(r, 3_500));
    expect(await tryLock(file, 2_000)).toBeUndefined();
    const l = await waitLock(file, 20_000, 2_000);
    expect(hold.out()).toMatch(/released/);
    expect(l).toBeDefined();
    await l!.release();
  }, 30_000);

  it('waitLock on a live holder gives up after its timeout (pull and sync then report busy)', async () => {
    const file = path.join(h.root, 'z.lock');
    const hold = holder(file, 20_000);
    await hold.locked;
    expect(await waitLock(file, 500, 2_000)).toBeUndefined();
  }, 30_000);

  it('concurrent pulls of the same agent both succeed and main ends at the pushed commit', async () => {
    const pushed = await clientPush(h.extPath(a.agentId), path.join(h.root, 'client'), 'system/b.md', 'b\n');
    const [r1, r2] = await Promise.all([cli(['pull', '--agent', a.agentId]), cli(['pull', '--agent', a.agentId])]);
    expect([r1.code, r2.code], r1.err + r2.err).toEqual([0, 0]);
    expect(await rev(a.gitDir, 'main')).toBe(pushed);
  });

  it('a holder whose lock was removed under it is warned in one line and does not crash', async () => {
    const file = path.join(h.root, 'w.lock');
    const hold = holder(file, 4_000);
    await hold.locked;
    fs.rmSync(file, { recursive: true, force: true });
    const code = await new Promise((r) => hold.child.on('close', r));
    expect(code, hold.out()).toBe(0);
    expect(hold.out()).toMatch(/^letta-memfs-hooks: warning: lock .* was taken over .*$/m);
    expectNoStack(hold.out());
  }, 30_000);

  it('LETTA_MEMFS_LOCK_STALE_SECONDS: at least 2, anything else is the 20 s default', () => {
    expect(lockStaleMs({ LETTA_MEMFS_LOCK_STALE_SECONDS: '5' })).toBe(5_000);
    for (const v of ['1', '0', '-3', 'abc', '', undefined]) expect(lockStaleMs({ LETTA_MEMFS_LOCK_STALE_SECONDS: v })).toBe(20_000);
  });
});
