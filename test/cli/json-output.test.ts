/**
 * `--json` on every command that prints a result, and `status --all`: the built CLI as a real process, its stdout
 * parsed as ONE JSON document (so any stray text line there fails the parse), the exit code the text form has.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AGENT, AGENT2, cli, commitAll, gitOk, makeCheckout, md, requireBuild, type Run, type Sandbox, sandbox, tempDir, writeFile } from '../client/env.js';
import { CLI } from '../helpers/cli.js';
import { type Harness, makeHarness } from '../server/harness.js';

requireBuild();

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** Stdout must be exactly one JSON document. */
function doc(r: { stdout: string; stderr: string; status?: number }): any {
  expect(r.stdout.trim(), r.stderr).not.toBe('');
  return JSON.parse(r.stdout);
}

/** A fresh HOME with two Letta Code checkouts (~/.letta/agents/<id>/memory, one commit each) and their bare remotes. */
function world(): { sb: Sandbox; root: string; remote: string; checkout: (id: string) => string } {
  const t = tempDir('lmh-json-');
  cleanups.push(t.cleanup);
  const sb = sandbox(t.dir);
  const ext = path.join(t.dir, 'ext');
  fs.mkdirSync(ext);
  const checkout = (id: string) => path.join(sb.home, '.letta', 'agents', id, 'memory');
  for (const id of [AGENT, AGENT2]) {
    makeCheckout(sb, checkout(id), id);
    writeFile(checkout(id), 'system/human.md', md('the human', 'Ada\n'));
    commitAll(sb, checkout(id), 'Initial commit');
    gitOk(sb, ext, ['init', '-q', '--bare', '-b', 'main', `${id}.git`]);
  }
  return { sb, root: t.dir, remote: `${ext}/{agentId}.git`, checkout };
}

describe('client commands: --json prints one document', () => {
  it('status --all on a fresh HOME: the checkout not set up first, exit 1; after init --all every one ok, exit 0', () => {
    const w = world();
    const run = (args: string[], cwd = w.root): Run => cli(w.sb, args, { cwd });

    const one = run(['init', '--yes', '--remote', w.remote, '--json'], w.checkout(AGENT));
    expect(one.status, one.stderr).toBe(0);
    const init = doc(one);
    expect(init).toMatchObject({ agentId: AGENT, checkout: w.checkout(AGENT), dryRun: false, changed: true, local: false });
    expect(init.hooks).toEqual(expect.arrayContaining(['pre-push']));

    const text = run(['status', '--all']);
    expect(text.status, text.stderr).toBe(1);
    const lines = text.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(new RegExp(`^${AGENT2}: not set up \\(fix: .+ init --all\\)`));
    expect(lines[1]).toMatch(new RegExp(`^${AGENT}: ok: redirected to `));
    expect(lines[2]).toBe('2 checkout(s), 1 with a problem');

    const all = run(['status', '--all', '--json']);
    expect(all.status, all.stderr).toBe(1);
    const st = doc(all);
    expect(st.problems).toBe(1);
    expect(st.checkouts.map((c: any) => [c.agentId, c.ok, c.problem])).toEqual([
      [AGENT2, false, 'not set up'],
      [AGENT, true, undefined],
    ]);
    expect(st.checkouts[1].status.redirected).toBe(true);
    expect(run(['status', '--all', '--repo', w.checkout(AGENT)]).status).toBe(2);

    const plan = run(['init', '--all', '--dry-run', '--json']);
    expect(plan.status, plan.stderr).toBe(0);
    expect(doc(plan)).toMatchObject({ planned: 2, failed: 0 });

    const setUp = run(['init', '--all', '--json']);
    expect(setUp.status, setUp.stderr).toBe(0);
    const rows = doc(setUp);
    expect(rows).toMatchObject({ setUp: 1, alreadySetUp: 1, failed: 0 });
    expect(rows.checkouts.map((c: any) => [c.agentId, c.changed])).toEqual([
      [AGENT, false],
      [AGENT2, true],
    ]);

    const fine = run(['status', '--all', '--json']);
    expect(fine.status, fine.stdout).toBe(0);
    expect(doc(fine).checkouts.every((c: any) => c.ok)).toBe(true);
  });

  it('status, doctor, init --dry-run and uninstall (dry run, real, again) each print one document', () => {
    const w = world();
    const dir = w.checkout(AGENT);
    const run = (args: string[]): Run => cli(w.sb, args, { cwd: dir });

    const dry = run(['init', '--yes', '--remote', w.remote, '--dry-run', '--json']);
    expect(dry.status, dry.stderr).toBe(0);
    expect(doc(dry)).toMatchObject({ agentId: AGENT, dryRun: true, changed: false });
    expect(Object.keys(doc(dry).planned).length).toBeGreaterThan(0);

    expect(run(['init', '--yes', '--remote', w.remote]).status).toBe(0);
    const st = run(['status', '--json']);
    expect(st.status, st.stderr).toBe(0);
    expect(doc(st)).toMatchObject({ installed: true, agentId: AGENT, redirected: true });

    const dr = run(['doctor', '--json']);
    expect(Array.isArray(doc(dr))).toBe(true);

    const would = run(['uninstall', '--dry-run', '--json']);
    expect(would.status, would.stderr).toBe(0);
    expect(doc(would)).toMatchObject({ checkout: dir, setUp: true, dryRun: true });
    expect(doc(would).would.length).toBeGreaterThan(0);

    const un = run(['uninstall', '--json']);
    expect(un.status, un.stderr).toBe(0);
    expect(doc(un)).toMatchObject({ checkout: dir, setUp: true, changed: true, configRestoredExactly: true });
    const again = run(['uninstall', '--json']);
    expect(again.status).toBe(0);
    expect(doc(again)).toEqual({ checkout: dir, setUp: false, changed: false });

    // Not set up any more: status exits 1, still one document.
    const gone = run(['status', '--json']);
    expect(gone.status).toBe(1);
    expect(doc(gone).installed).toBe(false);
  });

  it('an error with --json: one line on stderr, one JSON line on stdout, the usual exit code', () => {
    const w = world();
    const args = ['patch-server', '--check', path.join(w.root, 'no-letta-here')];
    const text = cli(w.sb, args, { cwd: w.root });
    const r = cli(w.sb, [...args, '--json'], { cwd: w.root });
    expect(text.status).not.toBe(0);
    expect(r.status).toBe(text.status);
    expect(r.stderr).toBe(text.stderr);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(doc(r)).toMatchObject({ exitCode: text.status, error: expect.any(String) });
    const usage = cli(w.sb, ['watch', '--json', '--memfs-root', w.root], { cwd: w.root });
    expect(usage.status).toBe(2);
    expect(doc(usage)).toMatchObject({ exitCode: 2, error: expect.stringContaining('--json is for watch --once') });
  });
});

it.each([['init'], ['init', '--server'], ['uninstall'], ['uninstall', '--server'], ['status'], ['status', '--server'], ['doctor'], ['pull'], ['sync'], ['watch'], ['maintain'], ['restore'], ['patch-server']].map((c) => [c.join(' ')]))(
  '%s --help names --json',
  (cmd) => {
    const w = world();
    const r = cli(w.sb, [...cmd.split(' '), '--help'], { cwd: w.root });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--json/);
  },
);

describe('server commands: --json prints one document', () => {
  // Asynchronous on purpose: the Letta double answers from this process's event loop.
  function srv(h: Harness, args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI, ...args], {
        cwd: h.root,
        env: { ...process.env, XDG_CONFIG_HOME: path.join(h.root, 'xdg'), HOME: h.root, LETTA_MEMFS_INTERNAL: undefined },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
    });
  }

  it('init --server (dry run and real), status, pull, sync, watch --once, maintain, uninstall --server', async () => {
    const h = await makeHarness();
    cleanups.push(() => h.cleanup());
    const a = await h.addAgent({ 'system/persona.md': md('persona', 'helpful\n') });
    const b = await h.addAgent();
    const root = ['--memfs-root', h.memfsRoot];
    const ok = async (args: string[], code = 0) => {
      const r = await srv(h, [...args, '--json']);
      expect(r.status, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(code);
      return doc(r);
    };
    const initArgs = ['init', '--server', ...root, '--remote', `${h.extRoot}/{agentId}.git`, '--letta-url', h.letta.url, '--mode', 'patched'];

    expect(await ok([...initArgs, '--dry-run'])).toMatchObject({ dryRun: true, agents: [a.agentId, b.agentId].sort() });
    expect((await ok(initArgs)).agents).toHaveLength(2);
    const status = await ok(['status', '--server', ...root]);
    expect(status.map((s: any) => s.agentId).sort()).toEqual([a.agentId, b.agentId].sort());
    const pulled = await ok(['pull', '--all', ...root]);
    expect(pulled.map((o: any) => o.agentId).sort()).toEqual([a.agentId, b.agentId].sort());
    expect(await ok(['pull', '--all', '--dry-run', ...root])).toMatchObject({ dryRun: true });
    const synced = await ok(['sync', '--all', ...root]);
    expect(synced).toHaveLength(2);
    expect(synced.every((o: any) => typeof o.action === 'string')).toBe(true);
    expect(await ok(['watch', '--once', '--no-listen', ...root])).toMatchObject({ agents: 2, failures: [] });
    expect(await ok(['maintain', '--all', '--dry-run', ...root])).toHaveLength(2);
    const would = await ok(['uninstall', '--server', '--all', '--dry-run', ...root]);
    expect(would.every((r: any) => r.dryRun && r.would.length > 0)).toBe(true);
    const gone = await ok(['uninstall', '--server', '--all', ...root]);
    expect(gone.map((r: any) => r.changed)).toEqual([true, true]);
  });
});
