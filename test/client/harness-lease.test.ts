import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lcCommit, lcInitialize } from '../fixtures/letta-code-local.js';
import { cli, clientSuite, gitOk, md, localMachine, type LocalMachine } from './env.js';

// `pull` and the background push leave a local-backend checkout alone while Letta Code holds it: its memory lease
// (.git/letta-memory-operation.lock) or its repair agent's claim (.git/letta-memory-repair.json). The files are
// written as Letta Code 0.34.12 writes them (src/utils/file-lock.ts ownerRecord, src/agent/memory-conflict-repair.ts
// claimMemoryConflictRepair: JSON with the owner's pid and its `ps -o lstart=` start time under TZ=UTC LC_ALL=C),
// owned by a live process (a sleeping child) or by a dead one.
const USER = 'memfs-bot';
const TOKEN = 'lease-token-3e9a';
const LOCAL = 'agent-local-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
const SEED = { 'system/persona.md': md('Who I am', 'Helpful.\n') };
const suite = clientSuite(USER, TOKEN);
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill();
});

function sleeper(): ChildProcess {
  const c = spawn('sleep', ['300'], { stdio: 'ignore' });
  children.push(c);
  return c;
}

const lstart = (pid: number) => spawnSync('ps', ['-o', 'lstart=', '-p', String(pid)], { env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' }, encoding: 'utf8' }).stdout.trim();
const lease = (pid: number, started = lstart(pid)) => JSON.stringify({ pid, started, acquiredAt: Date.now(), token: randomUUID() });
const claim = (pid: number, state: string) => JSON.stringify({ signature: 'abc\n', token: randomUUID(), state, pid, started: lstart(pid), attemptedAt: new Date().toISOString() });

async function dead(): Promise<number> {
  const c = sleeper();
  const pid = c.pid!;
  c.kill();
  await new Promise((r) => c.once('exit', r));
  return pid;
}

type Machine = LocalMachine;
const machine = (root: string, name: string): Machine => localMachine(root, name, LOCAL, TOKEN);
const pull = (m: Machine) => cli(m.sb, ['pull'], { cwd: m.dir });
const status = (m: Machine) => cli(m.sb, ['status'], { cwd: m.dir });
const head = (m: Machine) => gitOk(m.sb, m.dir, ['rev-parse', 'refs/heads/main']);
const gitFile = (m: Machine, f: string) => path.join(m.dir, '.git', f);

async function settle(check: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

describe("beside Letta Code's lease and repair agent", () => {
  it('pull and the background push wait for a live owner, say so in status, and ignore a dead one', async () => {
    const root = suite.workspace('lmh-lease-');
    const name = `local/${Math.random().toString(36).slice(2)}/${LOCAL}.git`;
    const url = await suite.host.createRepo(name);
    const hostMain = () => spawnSync('git', ['--git-dir', suite.host.repoPath(name), 'rev-parse', '-q', '--verify', 'refs/heads/main'], { encoding: 'utf8' }).stdout.trim();
    const a = machine(root, 'laptop');
    const b = machine(root, 'desktop');
    lcInitialize(a.sb, a.dir, LOCAL, SEED);
    expect(cli(a.sb, ['init', '--yes', '--git-user', USER, '--remote', url], { cwd: a.dir }).status).toBe(0);
    expect(pull(a).status).toBe(0);
    fs.mkdirSync(b.dir, { recursive: true });
    gitOk(b.sb, b.dir, ['init', '-q', '-b', 'main']);
    expect(cli(b.sb, ['init', '--yes', '--git-user', USER, '--remote', url], { cwd: b.dir }).status).toBe(0);
    expect(pull(b).status).toBe(0);
    const seeded = hostMain();

    // A memory worker holds the laptop's lease and commits: the background push waits, then leaves it.
    const worker = sleeper();
    fs.writeFileSync(gitFile(a, 'letta-memory-operation.lock'), lease(worker.pid!));
    const mine = lcCommit(a.sb, a.dir, LOCAL, { 'system/human.md': md('About the human', 'Name: Ada\n') }, 'human')!;
    expect(await settle(() => /push deferred: Letta Code holds its memory lease/.test(status(a).stdout), 20_000)).toBe(true);
    expect(hostMain()).toBe(seeded);
    const sa = status(a);
    expect(sa.stdout).toMatch(new RegExp(`Letta Code .*letta-memory-operation\\.lock, pid ${worker.pid}.*pull and the background push wait for it`));
    const started = Date.now();
    const held = pull(a);
    expect(held.status, held.stderr).toBe(0);
    expect(held.stdout).toMatch(/not merged yet: Letta Code holds its memory lease .*the next pull does this round/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(5_000);
    expect(hostMain()).toBe(seeded);

    // A lease whose pid now belongs to another process (start time differs) is not held, as Letta Code judges it.
    fs.writeFileSync(gitFile(a, 'letta-memory-operation.lock'), lease(worker.pid!, 'Thu Jan  1 00:00:00 1970'));
    expect(status(a).stdout).not.toMatch(/wait for it/);
    // Its owner gone, the lease file stays behind; the next round pushes.
    fs.writeFileSync(gitFile(a, 'letta-memory-operation.lock'), lease(await dead()));
    const freed = pull(a);
    expect(freed.status, freed.stderr).toBe(0);
    expect(freed.stdout).toMatch(/push/);
    expect(hostMain()).toBe(mine);

    // The desktop's repair agent has claimed its checkout: pull does not move main under it.
    const repairer = sleeper();
    fs.writeFileSync(gitFile(b, 'letta-memory-repair.json'), claim(repairer.pid!, 'launching'));
    const before = head(b);
    const r = pull(b);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/not merged yet: Letta Code's repair agent has claimed this checkout \(letta-memory-repair\.json, pid \d+\)/);
    expect(head(b)).toBe(before);
    expect(status(b).stdout).toMatch(/Letta Code .*repair agent/);
    // A finished claim (state done), or one whose process died, no longer holds it.
    fs.writeFileSync(gitFile(b, 'letta-memory-repair.json'), claim(repairer.pid!, 'done'));
    expect(pull(b).stdout).toMatch(/fast-forward/);
    expect(head(b)).toBe(mine);
    fs.writeFileSync(gitFile(b, 'letta-memory-repair.json'), claim(await dead(), 'launching'));
    expect(status(b).stdout).not.toMatch(/wait for it/);
  }, 240_000);
});
