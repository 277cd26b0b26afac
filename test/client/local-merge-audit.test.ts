import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLocalAgent, type LettaCodePypi, lettaCodePypi } from '../fixtures/letta-code-pypi.js';
import { lcCommit, lcInitialize } from '../fixtures/letta-code-local.js';
import { cli, clientSuite, git, gitOk, type Run, type Sandbox, sandbox } from './env.js';

// Issue 24 item 1: a merge (or fast-forward) made by `pull` in a local-backend checkout becomes main only when Letta
// Code's own checker (.git/hooks/letta-memory-constraints.cjs, written by the real 0.34.12) accepts it. Two machines
// (two HOMEs) share one agent through the basic-auth git host; every memory commit is a plain `git commit` in the
// checkout, so Letta Code's own pre-commit judges it, as it does the agent's.
const USER = 'memfs-bot';
const TOKEN = 'audit-token-5d1e';
const suite = clientSuite(USER, TOKEN);
let lc: LettaCodePypi;
beforeAll(() => {
  lc = lettaCodePypi('0.34.12');
}, 900_000);

interface Machine {
  sb: Sandbox;
  dir: string;
}

const fm = (name: string, body: string) => `---\nname: ${name}\ndescription: ${name} notes\n---\n${body}`;
/** `n` characters of ASCII text (the checker counts characters). */
const text = (n: number, seed: string) => (seed + ' ').repeat(Math.ceil(n / (seed.length + 1))).slice(0, n);

const head = (m: Machine, ref = 'refs/heads/main') => gitOk(m.sb, m.dir, ['rev-parse', ref]);
const isAncestor = (m: Machine, a: string, b: string) => git(m.sb, m.dir, ['merge-base', '--is-ancestor', a, b]).status === 0;
const pull = (m: Machine): Run => cli(m.sb, ['pull'], { cwd: m.dir });
const status = (m: Machine): Run => cli(m.sb, ['status'], { cwd: m.dir });

/** Letta Code's own audit of the checkout's committed HEAD, with the node its pre-commit names. */
function lettaAudit(m: Machine): Run {
  const r = spawnSync(lc.node, [path.join(m.dir, '.git', 'hooks', 'letta-memory-constraints.cjs'), '--audit'], { cwd: m.dir, env: m.sb.env, encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Writes and removes files, then commits them as the agent does; Letta Code's pre-commit must accept it. */
function commit(m: Machine, files: Record<string, string | null>, message: string, env: Record<string, string> = {}): string {
  for (const [rel, body] of Object.entries(files)) {
    const p = path.join(m.dir, rel);
    if (body === null) fs.rmSync(p, { recursive: true, force: true });
    else {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, body);
    }
  }
  gitOk(m.sb, m.dir, ['add', '-A', '--', ...Object.keys(files)]);
  const r = git(m.sb, m.dir, ['commit', '-q', '-m', message], env);
  if (r.status !== 0) throw new Error(`Letta Code's pre-commit refused "${message}": ${r.stderr}${r.stdout}`);
  return head(m);
}

async function hostReaches(name: string, oid: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (suite.host.git(name, ['rev-parse', '-q', '--verify', 'refs/heads/main']) !== oid) {
    if (Date.now() > deadline) throw new Error(`the host's main is not ${oid} 30 s after the commit`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * One machine pulls into a merge its checker rejects: main stays, nothing is pushed, both sides stay under refs,
 * pull and status name the cause and the fix; Letta Code's audit still passes on main.
 */
function expectRefused(m: Machine, name: string, cause: RegExp, fix: RegExp): string {
  const before = head(m);
  const hostBefore = suite.host.git(name, ['rev-parse', 'refs/heads/main']);
  const r = pull(m);
  expect(r.status, r.stdout + r.stderr).toBe(1);
  expect(r.stderr).toMatch(cause);
  expect(r.stderr).toMatch(fix);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(head(m)).toBe(before);
  expect(suite.host.git(name, ['rev-parse', 'refs/heads/main'])).toBe(hostBefore);
  const kept = gitOk(m.sb, m.dir, ['for-each-ref', '--format=%(refname)', 'refs/letta-memfs/refused']);
  expect(kept).not.toBe('');
  expect(isAncestor(m, before, kept)).toBe(true);
  expect(isAncestor(m, hostBefore, kept)).toBe(true);
  const audit = lettaAudit(m);
  expect(audit.status, audit.stderr).toBe(0);
  const st = status(m);
  expect(st.status).toBe(1);
  expect(st.stdout).toMatch(/REFUSED/);
  expect(st.stdout).toMatch(cause);
  expect(gitOk(m.sb, m.dir, ['status', '--porcelain'])).toBe('');
  return kept;
}

/** The fix the refusal names, made in the checkout: a merge by hand that Letta Code's pre-commit checks. */
function mergeByHand(m: Machine, edit: () => void, env: Record<string, string> = {}): string {
  const r = git(m.sb, m.dir, ['merge', '--no-commit', '--no-ff', 'refs/remotes/origin/main']);
  expect(r.status, r.stderr).toBe(0);
  edit();
  gitOk(m.sb, m.dir, ['add', '-A']);
  const c = git(m.sb, m.dir, ['commit', '-q', '--no-edit'], env);
  if (c.status !== 0) throw new Error(`Letta Code's pre-commit refused the merge by hand: ${c.stderr}${c.stdout}`);
  return head(m);
}

function converge(a: Machine, b: Machine, made: string[]): void {
  for (const m of [b, a, b]) {
    const r = pull(m);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  }
  expect(head(a)).toBe(head(b));
  for (const m of [a, b]) {
    for (const c of made) expect(isAncestor(m, c, head(m)), c).toBe(true);
    const audit = lettaAudit(m);
    expect(audit.status, audit.stderr).toBe(0);
    expect(gitOk(m.sb, m.dir, ['for-each-ref', 'refs/letta-memfs/refused'])).toBe('');
    expect(status(m).stdout).not.toMatch(/REFUSED/);
  }
}

describe('pull keeps a merge only when Letta Code 0.34.12 accepts it', () => {
  it('refuses each merge the checker rejects, names the fix, and converges once it is made, with no commit lost', async () => {
    const root = suite.workspace('lmh-audit-');
    const a: Machine = { sb: sandbox(path.join(root, 'laptop'), { LETTA_MEMFS_GIT_TOKEN: TOKEN }), dir: '' };
    const agent = createLocalAgent(lc, a.sb.home);
    a.dir = agent.dir;
    const name = `local/${Math.random().toString(36).slice(2)}/${agent.id}.git`;
    const url = await suite.host.createRepo(name);
    const made: string[] = [head(a)];
    expect(cli(a.sb, ['init', '--yes', '--git-user', USER, '--remote', url], { cwd: a.dir }).status).toBe(0);
    expect(pull(a).stdout).toContain('seed');

    // Machine b: the agent's record copied over (README), an empty checkout, init, pull; then Letta Code opens the
    // agent there once (offline: its model call fails, after it wrote its hooks into the checkout).
    const b: Machine = { sb: sandbox(path.join(root, 'desktop'), { LETTA_MEMFS_GIT_TOKEN: TOKEN }), dir: path.join(root, 'desktop', 'home', '.letta', 'lc-local-backend', 'memfs', agent.id, 'memory') };
    const records = path.join(a.sb.home, '.letta', 'lc-local-backend', 'agents');
    fs.cpSync(records, path.join(b.sb.home, '.letta', 'lc-local-backend', 'agents'), { recursive: true });
    fs.mkdirSync(b.dir, { recursive: true });
    gitOk(b.sb, b.dir, ['init', '-q', '-b', 'main']);
    expect(cli(b.sb, ['init', '--yes', '--git-user', USER, '--remote', url], { cwd: b.dir }).status).toBe(0);
    const pb = pull(b);
    expect(pb.status, pb.stderr).toBe(0);
    expect(head(b)).toBe(head(a));
    lc.run(['--backend', 'local', '--agent', agent.id, '-p', 'hi'], { ...b.sb.env, LETTA_LOCAL_BACKEND_EXPERIMENTAL: '1' }, b.sb.home);
    expect(fs.existsSync(path.join(b.dir, '.git', 'hooks', 'letta-memory-constraints.cjs'))).toBe(true);
    expect(head(b)).toBe(head(a));

    // 1. a deletes journal/ while b adds journal/new.md: the clean merge lacks journal/MEMORY.md.
    made.push(commit(a, { 'journal/MEMORY.md': '# Journal\n', 'journal/day1.md': fm('day1', 'first day\n') }, 'journal'));
    await hostReaches(name, made.at(-1)!);
    expect(pull(b).stdout).toMatch(/fast-forward/);
    made.push(commit(a, { journal: null }, 'drop the journal'));
    await hostReaches(name, made.at(-1)!);
    made.push(commit(b, { 'journal/new.md': fm('new', 'a new entry\n') }, 'new entry'));
    expectRefused(b, name, /journal\/new\.md: missing required index journal\/MEMORY\.md/, /fix: add journal\/MEMORY\.md/);
    made.push(mergeByHand(b, () => gitOk(b.sb, b.dir, ['checkout', 'HEAD', '--', 'journal/MEMORY.md'])));
    converge(a, b, made);

    // 2. a lowers maxFileCharacters (approved there) while b adds a longer file: the merge breaks the new limit. The
    // host changed .memfs.config.json, so the merge by hand needs Letta Code's approval variable, and the fix says so.
    const lowered = '{"version":1,"maxFileCharacters":10000}\n';
    made.push(commit(a, { '.memfs.config.json': lowered }, 'lower the file limit', { LETTA_MEMORY_CONSTRAINTS_UPDATE: '1' }));
    await hostReaches(name, made.at(-1)!);
    made.push(commit(b, { 'notes/MEMORY.md': '# Notes\n', 'notes/long.md': fm('long', text(12_000, 'epsilon')) }, 'long note'));
    expectRefused(b, name, /notes\/long\.md: \d+ characters exceeds 10000 from maxFileCharacters/, /fix: shorten or split notes\/long\.md to at most 10000 characters.*LETTA_MEMORY_CONSTRAINTS_UPDATE=1/);
    made.push(mergeByHand(b, () => fs.writeFileSync(path.join(b.dir, 'notes', 'long.md'), fm('long', text(9_000, 'epsilon'))), { LETTA_MEMORY_CONSTRAINTS_UPDATE: '1' }));
    converge(a, b, made);

    // 3. Each machine adds about 34k characters of root files (each under the 10,000 limit): core memory over 65,536
    // after the merge. The refusal happens on a this time.
    const core = (seed: string) => Object.fromEntries([1, 2, 3, 4].map((i) => [`${seed}-${i}.md`, fm(`${seed}-${i}`, text(8_500, seed))]));
    made.push(commit(b, core('gamma'), 'b core'));
    await hostReaches(name, made.at(-1)!);
    made.push(commit(a, core('alpha'), 'a core'));
    expectRefused(a, name, /core memory: \d+ characters exceeds 65536 from maxCoreMemoryCharacters/, /fix: move detail out of the root \.md files/);
    made.push(
      mergeByHand(a, () => {
        fs.mkdirSync(path.join(a.dir, 'detail'));
        fs.writeFileSync(path.join(a.dir, 'detail', 'MEMORY.md'), '# Detail\n');
        for (const i of [1, 2]) gitOk(a.sb, a.dir, ['mv', `alpha-${i}.md`, `detail/alpha-${i}.md`]);
      }),
    );
    converge(a, b, made);
  }, 300_000);

  it('without a checker in the checkout (Letta Code not run there yet), our profile of its rules refuses the same merge', async () => {
    const root = suite.workspace('lmh-audit-profile-');
    const id = 'agent-local-3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f';
    const host = path.join(root, 'host.git');
    spawnSync('git', ['init', '-q', '--bare', '-b', 'main', host]);
    const mk = (name: string): Machine => {
      const sb = sandbox(path.join(root, name));
      return { sb, dir: path.join(sb.home, '.letta', 'lc-local-backend', 'memfs', id, 'memory') };
    };
    const a = mk('laptop');
    const b = mk('desktop');
    lcInitialize(a.sb, a.dir, id, { 'MEMORY.md': '# Memory\n', 'persona.md': fm('persona', 'helpful\n'), 'journal/MEMORY.md': '# Journal\n', 'journal/day1.md': fm('day1', 'first\n') });
    expect(fs.existsSync(path.join(a.dir, '.git', 'hooks', 'letta-memory-constraints.cjs'))).toBe(false);
    expect(cli(a.sb, ['init', '--yes', '--remote', host], { cwd: a.dir }).status).toBe(0);
    expect(pull(a).status).toBe(0);
    fs.mkdirSync(b.dir, { recursive: true });
    gitOk(b.sb, b.dir, ['init', '-q', '-b', 'main']);
    expect(cli(b.sb, ['init', '--yes', '--remote', host], { cwd: b.dir }).status).toBe(0);
    expect(pull(b).stdout).toMatch(/create-main/);
    gitOk(a.sb, a.dir, ['rm', '-q', '-r', 'journal']);
    gitOk(a.sb, a.dir, ['commit', '-q', '-m', 'drop the journal']);
    const theirs = head(a);
    const mine = lcCommit(b.sb, b.dir, id, { 'journal/new.md': fm('new', 'entry\n') }, 'new entry')!;
    for (let i = 0; i < 300 && spawnSync('git', ['--git-dir', host, 'rev-parse', 'main'], { encoding: 'utf8' }).stdout.trim() !== theirs; i++) {
      spawnSync('sleep', ['0.1']);
    }
    const r = pull(b);
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toMatch(/Letta Code's rules \(no checker in this checkout yet\) rejects the merge .*journal\/new\.md: is in a folder without its index journal\/MEMORY\.md/);
    expect(head(b)).toBe(mine);
    const kept = gitOk(b.sb, b.dir, ['rev-parse', 'refs/letta-memfs/refused']);
    expect(isAncestor(b, theirs, kept) && isAncestor(b, mine, kept)).toBe(true);
  }, 120_000);
});
