import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureLettaCode, type LettaCode } from '../fixtures/letta-code.js';
import { lcCommit, lcInitialize } from '../fixtures/letta-code-local.js';
import { cli, clientSuite, git, gitOk, md, localMachine, type LocalMachine } from './env.js';

// Two machines (two HOMEs) run the same Letta Code local-backend agent; the external host is the git http-backend
// fixture. Letta Code's commits are its exact git argv (test/fixtures/letta-code-local.ts); its `memory status` and
// `memory pull` run for real (0.32.18).
const USER = 'memfs-bot';
const TOKEN = 'local-token-77c1';
const LOCAL = 'agent-local-6f1c2b7e-3d4a-4b5c-9d8e-0a1b2c3d4e5f';
const SEED = { 'system/persona.md': md('Who I am', 'Helpful.\n'), 'system/human.md': md('About the human', 'Name: unknown\n') };

const suite = clientSuite(USER, TOKEN);
let lc: LettaCode;
beforeAll(() => {
  lc = ensureLettaCode('0.32.18');
}, 900_000);

type Machine = LocalMachine;
const machine = (root: string, name: string): Machine => localMachine(root, name, LOCAL, TOKEN);

function init(m: Machine, remote: string) {
  return cli(m.sb, ['init', '--yes', '--git-user', USER, '--remote', remote], { cwd: m.dir });
}

function pull(m: Machine) {
  return cli(m.sb, ['pull'], { cwd: m.dir });
}

const head = (m: Machine) => gitOk(m.sb, m.dir, ['rev-parse', 'refs/heads/main']);
const isAncestor = (m: Machine, a: string, b: string) => git(m.sb, m.dir, ['merge-base', '--is-ancestor', a, b]).status === 0;

/** Waits for the background push (no command run) to bring the host's main to `oid`. */
async function hostReaches(name: string, oid: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const h = spawnSync('git', ['--git-dir', suite.host.repoPath(name), 'rev-parse', '-q', '--verify', 'refs/heads/main'], { encoding: 'utf8' }).stdout.trim();
    if (h === oid) return;
    if (Date.now() > deadline) throw new Error(`the host's main is ${h || 'missing'}, not ${oid}, 30 s after the commit`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Letta Code's own view: `letta memory status` with the local backend (real 0.32.18). */
function lettaMemoryStatus(m: Machine): { code: number; status: { dirty: boolean; aheadOfRemote: boolean } } {
  const r = spawnSync(process.execPath, [lc.entry, 'memory', 'status', '--agent', LOCAL], {
    cwd: m.sb.home,
    env: { ...m.sb.env, LETTA_LOCAL_BACKEND_EXPERIMENTAL: '1' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0 && r.status !== 2) throw new Error(`letta memory status failed (${r.status}): ${r.stderr}${r.stdout}`);
  return { code: r.status, status: JSON.parse(r.stdout) };
}

describe('Letta Code local backend on two machines', () => {
  it('converges both checkouts through the host with no commit lost, and keeps a conflict', async () => {
    const root = suite.workspace('lmh-local-');
    const name = `local/${Math.random().toString(36).slice(2)}/${LOCAL}.git`;
    const url = await suite.host.createRepo(name);
    const template = url.replace(LOCAL, '{agentId}');
    const a = machine(root, 'laptop');
    const b = machine(root, 'desktop');
    const made: string[] = [];

    // Laptop: Letta Code creates the agent's memory repo; init finds the agent from the path and adds origin.
    lcInitialize(a.sb, a.dir, LOCAL, SEED);
    made.push(head(a));
    const ia = init(a, template);
    expect(ia.status, ia.stderr).toBe(0);
    expect(ia.stdout).toContain(`set up ${LOCAL}`);
    expect(gitOk(a.sb, a.dir, ['remote', 'get-url', 'origin'])).toBe(url);
    expect(fs.readFileSync(path.join(a.dir, '.git', 'hooks', 'reference-transaction'), 'utf8')).toContain('letta-memfs-hooks managed hook');
    const first = pull(a);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain('seed');
    expect(suite.host.git(name, ['rev-parse', 'refs/heads/main'])).toBe(head(a));

    // A commit by Letta Code reaches the host on its own.
    made.push(lcCommit(a.sb, a.dir, LOCAL, { 'system/human.md': md('About the human', 'Name: Ada\n') }, 'update human')!);
    await hostReaches(name, made.at(-1)!);
    expect(lettaMemoryStatus(a)).toEqual({ code: 0, status: expect.objectContaining({ dirty: false, aheadOfRemote: false }) });

    // Desktop: an empty repo at the agent's path, init, pull: the laptop's memory arrives; Letta Code then finds a
    // HEAD and commits on top of it (initializeLocalMemoryRepo returns early).
    fs.mkdirSync(b.dir, { recursive: true });
    gitOk(b.sb, b.dir, ['init', '-q', '-b', 'main']);
    expect(init(b, template).status).toBe(0);
    expect(pull(b).status).toBe(0);
    expect(head(b)).toBe(made.at(-1));
    lcInitialize(b.sb, b.dir, LOCAL, SEED);
    expect(head(b)).toBe(made.at(-1));
    expect(fs.readFileSync(path.join(b.dir, 'system', 'human.md'), 'utf8')).toContain('Name: Ada');

    // Edits on both sides: the desktop's push lands, the laptop's is rejected and waits for its next pull.
    made.push(lcCommit(b.sb, b.dir, LOCAL, { 'reference/notes.md': md('Notes', 'From the desktop\n') }, 'notes')!);
    await hostReaches(name, made.at(-1)!);
    made.push(lcCommit(a.sb, a.dir, LOCAL, { 'system/persona.md': md('Who I am', 'Helpful and brief.\n') }, 'persona')!);
    const pa = pull(a);
    expect(pa.status, pa.stderr).toBe(0);
    // The merge moves main, whose hook starts a background push: either that push or the pull's own lands the merge
    // (the other finds the host moved), so the pull says merge+push or merge; the host's main is checked below.
    expect(pa.stdout).toMatch(/: merge(\+push)?\n/);
    expect(pull(b).stdout).toMatch(/fast-forward/);
    expect(head(a)).toBe(head(b));
    expect(suite.host.git(name, ['rev-parse', 'refs/heads/main'])).toBe(head(a));
    for (const c of made) expect(isAncestor(a, c, head(a)), c).toBe(true);
    expect(fs.readFileSync(path.join(a.dir, 'reference', 'notes.md'), 'utf8')).toContain('From the desktop');
    expect(fs.readFileSync(path.join(b.dir, 'system', 'persona.md'), 'utf8')).toContain('brief');
    expect(gitOk(a.sb, a.dir, ['status', '--porcelain'])).toBe('');

    // The same file edited on both: the host's version (first pushed) wins on main, the desktop's side is kept.
    made.push(lcCommit(a.sb, a.dir, LOCAL, { 'system/human.md': md('About the human', 'Name: Ada Lovelace\n') }, 'full name')!);
    await hostReaches(name, made.at(-1)!);
    const mine = lcCommit(b.sb, b.dir, LOCAL, { 'system/human.md': md('About the human', 'Name: Ada L.\n') }, 'short name')!;
    made.push(mine);
    const pb = pull(b);
    expect(pb.status, pb.stdout).toBe(3);
    expect(pb.stdout).toMatch(/CONFLICT in system\/human\.md/);
    const ref = gitOk(b.sb, b.dir, ['for-each-ref', '--format=%(refname)', 'refs/letta-memfs/conflicts/']);
    expect(gitOk(b.sb, b.dir, ['rev-parse', ref])).toBe(mine);
    expect(fs.readFileSync(path.join(b.dir, 'system', 'human.md'), 'utf8')).toContain('Ada Lovelace');
    const st = cli(b.sb, ['status'], { cwd: b.dir });
    expect(st.status).toBe(3);
    expect(st.stdout).toContain(`CONFLICT     ${ref}`);
    expect(pull(a).status).toBe(0);
    expect(head(a)).toBe(head(b));
    for (const c of made) expect(isAncestor(b, c, head(b)), c).toBe(true);
    expect(lettaMemoryStatus(b).status).toMatchObject({ dirty: false, aheadOfRemote: false });

    // Letta Code's own pull subcommand with the local backend leaves everything as it was.
    const lp = spawnSync(process.execPath, [lc.entry, 'memory', 'pull', '--agent', LOCAL], { cwd: a.sb.home, env: { ...a.sb.env, LETTA_LOCAL_BACKEND_EXPERIMENTAL: '1' }, encoding: 'utf8' });
    expect(lp.status, lp.stderr).toBe(0);
    expect(gitOk(a.sb, a.dir, ['remote', 'get-url', 'origin'])).toBe(url);
  }, 240_000);

  it('never moves main under uncommitted changes or a merge in progress, and still pushes', async () => {
    const root = suite.workspace('lmh-local-dirty-');
    const name = `local/${Math.random().toString(36).slice(2)}/${LOCAL}.git`;
    const url = await suite.host.createRepo(name);
    const a = machine(root, 'laptop');
    const b = machine(root, 'desktop');
    lcInitialize(a.sb, a.dir, LOCAL, SEED);
    expect(init(a, url).status).toBe(0);
    expect(pull(a).status).toBe(0);
    fs.mkdirSync(b.dir, { recursive: true });
    gitOk(b.sb, b.dir, ['init', '-q', '-b', 'main']);
    expect(init(b, url).status).toBe(0);
    expect(pull(b).status).toBe(0);
    const theirs = lcCommit(a.sb, a.dir, LOCAL, { 'system/human.md': md('About the human', 'Name: Ada\n') }, 'human')!;
    await hostReaches(name, theirs);

    const before = head(b);
    fs.writeFileSync(path.join(b.dir, 'system', 'human.md'), md('About the human', 'being edited\n'));
    const dirty = pull(b);
    expect(dirty.status, dirty.stderr).toBe(1);
    expect(dirty.stdout).toMatch(/not merged: the work tree has uncommitted changes/);
    expect(head(b)).toBe(before);
    expect(fs.readFileSync(path.join(b.dir, 'system', 'human.md'), 'utf8')).toContain('being edited');
    gitOk(b.sb, b.dir, ['checkout', '--', 'system/human.md']);

    fs.writeFileSync(path.join(b.dir, '.git', 'MERGE_HEAD'), `${theirs}\n`);
    expect(pull(b).stdout).toMatch(/not merged: MERGE_HEAD exists/);
    expect(head(b)).toBe(before);
    fs.rmSync(path.join(b.dir, '.git', 'MERGE_HEAD'));
    expect(pull(b).stdout).toMatch(/fast-forward/);
    expect(head(b)).toBe(theirs);

    // uninstall puts .git/config back byte for byte: no origin, no hooks of ours.
    const u = cli(b.sb, ['uninstall'], { cwd: b.dir });
    expect(u.status, u.stderr).toBe(0);
    expect(git(b.sb, b.dir, ['remote']).stdout.trim()).toBe('');
    expect(fs.existsSync(path.join(b.dir, '.git', 'hooks', 'reference-transaction'))).toBe(false);
  }, 240_000);

  it('refuses an origin it did not set, changing nothing', async () => {
    const root = suite.workspace('lmh-local-origin-');
    const url = await suite.host.createRepo(`local/${Math.random().toString(36).slice(2)}/${LOCAL}.git`);
    const a = machine(root, 'laptop');
    lcInitialize(a.sb, a.dir, LOCAL, SEED);
    gitOk(a.sb, a.dir, ['remote', 'add', 'origin', 'https://elsewhere.example/mine.git']);
    const config = fs.readFileSync(path.join(a.dir, '.git', 'config'), 'utf8');
    const r = init(a, url);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/origin is already https:\/\/elsewhere\.example\/mine\.git.*fix: .*git remote remove origin/);
    expect(fs.readFileSync(path.join(a.dir, '.git', 'config'), 'utf8')).toBe(config);
    expect(fs.existsSync(path.join(a.dir, '.git', 'letta-memfs'))).toBe(false);
  }, 60_000);

  it('init --dry-run lists the hooks it would install, reference-transaction included', async () => {
    const root = suite.workspace('lmh-local-dry-');
    const url = await suite.host.createRepo(`local/${Math.random().toString(36).slice(2)}/${LOCAL}.git`);
    const a = machine(root, 'laptop');
    lcInitialize(a.sb, a.dir, LOCAL, SEED);
    const r = cli(a.sb, ['init', '--yes', '--dry-run', '--git-user', USER, '--remote', url], { cwd: a.dir });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ {2}hooks {5}pre-push, post-merge, post-checkout, reference-transaction into /m);
    expect(fs.existsSync(path.join(a.dir, '.git', 'letta-memfs'))).toBe(false);
  }, 60_000);
});
