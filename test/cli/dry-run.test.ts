/**
 * Issue 24 item 2: `--dry-run` is dry in every role and command that takes it. Which commands take it is read from
 * the CLI itself (each command's real argument parser, probed with `--dry-run=x`: "takes no value" means it knows the
 * flag), so a command that gains --dry-run fails this file until it is covered here. Each run must leave the host,
 * main, every ref, the config and every state file byte-identical: whole trees are snapshotted (HOME with the
 * checkout and its .git, the external repos, the memfs root, the user config dir).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lcCommit, lcInitialize } from '../fixtures/letta-code-local.js';
import { serverEdit } from '../fixtures/server-repo.js';
import { CLI as CLIENT_CLI, cli, gitOk, md, sandbox, snapshot, tempDir } from '../client/env.js';
import { runCliAsync } from '../helpers/cli.js';
import { clientPush, type Harness, makeHarness } from '../server/harness.js';
import { spawnSync } from 'node:child_process';

const node = (args: string[], cwd: string) => spawnSync(process.execPath, [CLIENT_CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, LETTA_MEMFS_INTERNAL: undefined } });

/** Every `<command>` and `<command> --server` whose parser accepts --dry-run, from the CLI's own --help and parsers. */
function commandsTakingDryRun(cwd: string): string[] {
  const help = node(['--help'], cwd).stdout;
  const names = [...help.matchAll(/^ {2}([a-z-]+) {2,}/gm)].map((m) => m[1]);
  expect(names.length).toBeGreaterThan(5);
  const out: string[] = [];
  for (const name of names) {
    for (const variant of [[], ['--server']]) {
      const r = node([name, ...variant, '--dry-run=x'], cwd);
      if (/--dry-run takes no value/.test(r.stderr)) out.push([name, ...variant].join(' '));
      else expect(r.stderr, `${name} ${variant.join(' ')}`).toMatch(/unknown option --(dry-run|server)/);
    }
  }
  return out.sort();
}

const LOCAL = 'agent-local-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
const SEED = { 'system/persona.md': md('Who I am', 'Helpful.\n'), 'system/human.md': md('About the human', 'Name: unknown\n') };

/** Runs are keyed like commandsTakingDryRun's entries; each must cover that command in every role it has. */
const covered = new Set<string>();

function sameAfter(dirs: string[], run: () => { status: number | null; stdout?: string; stderr?: string } | Promise<{ code: number | null; out: string; err: string }>) {
  return async () => {
    const before = dirs.map(snapshot);
    const r = await run();
    const after = dirs.map(snapshot);
    for (let i = 0; i < dirs.length; i++) expect(after[i], `${dirs[i]} changed`).toEqual(before[i]);
    return r;
  };
}

describe('--dry-run changes nothing', () => {
  const t = tempDir('lmh-dry-');
  afterAll(() => t.cleanup());

  it('client role: a local-backend checkout (pull with diverged sides, init, init --local, init --all, uninstall)', async () => {
    const sb = sandbox(path.join(t.dir, 'client'));
    const dir = path.join(sb.home, '.letta', 'lc-local-backend', 'memfs', LOCAL, 'memory');
    lcInitialize(sb, dir, LOCAL, SEED);
    const host = path.join(t.dir, 'client', 'host', `${LOCAL}.git`);
    gitOk(sb, t.dir, ['init', '-q', '--bare', '-b', 'main', host]);
    const fresh = cli(sb, ['init', '--dry-run', '--yes', '--remote', host], { cwd: dir });
    expect(fresh.status, fresh.stderr).toBe(0);
    expect(cli(sb, ['init', '--yes', '--remote', host], { cwd: dir }).status).toBe(0);
    expect(cli(sb, ['pull'], { cwd: dir }).status).toBe(0);
    // Diverged: a commit on the host (another machine) and one here, so a real pull would fetch, merge and push.
    const other = path.join(t.dir, 'client', 'other');
    gitOk(sb, t.dir, ['clone', '-q', host, other]);
    fs.writeFileSync(path.join(other, 'system', 'notes.md'), md('Notes', 'from elsewhere\n'));
    gitOk(sb, other, ['add', '-A']);
    gitOk(sb, other, ['commit', '-q', '-m', 'elsewhere']);
    gitOk(sb, other, ['push', '-q', 'origin', 'main']);
    lcCommit(sb, dir, LOCAL, { 'system/human.md': md('About the human', 'Name: Ada\n') }, 'human');
    // The background push of that commit is rejected (the host moved); wait for its line so nothing writes later.
    const log = path.join(dir, '.git', 'letta-memfs', 'push.log');
    for (let i = 0; i < 300 && !(fs.existsSync(log) && /rejected/.test(fs.readFileSync(log, 'utf8'))); i++) spawnSync('sleep', ['0.1']);
    expect(fs.readFileSync(log, 'utf8')).toMatch(/rejected/);
    const dirs = [sb.home, host];

    const pull = await sameAfter(dirs, () => cli(sb, ['pull', '--dry-run'], { cwd: dir }))();
    expect(pull.status, (pull as { stderr: string }).stderr).toBe(0);
    expect((pull as { stdout: string }).stdout).toMatch(/would fetch the host's new commits/);
    covered.add('pull');

    for (const args of [
      ['init', '--dry-run', '--yes', '--remote', `${host}-moved`],
      ['init', '--dry-run', '--yes', '--local'],
      ['init', '--dry-run', '--all', '--remote', path.join(t.dir, 'client', 'host', '{agentId}.git')],
      ['uninstall', '--dry-run'],
    ]) {
      const r = await sameAfter(dirs, () => cli(sb, args, { cwd: dir }))();
      expect(r.status, `${args.join(' ')}: ${(r as { stderr: string }).stderr}`).toBe(0);
      covered.add(args[0]);
    }
    // A second round proves the sides really were diverged: the real pull merges and pushes.
    const real = cli(sb, ['pull'], { cwd: dir });
    expect(real.status, real.stderr).toBe(0);
    expect(real.stdout).toMatch(/merge\+push/);
  }, 120_000);

  describe('server role', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await makeHarness();
    });
    afterAll(async () => h.cleanup());

    it('init --server, pull --all, maintain --all, restore and uninstall --server on set-up repos with work to do', async () => {
      const env = { XDG_CONFIG_HOME: path.join(h.root, 'xdg') };
      const run = (args: string[]) => runCliAsync(args, { cwd: h.root, env });
      const a = await h.addAgent();
      await h.addAgent();
      const dirs = [h.memfsRoot, h.extRoot, path.join(h.root, 'xdg')];
      const initArgs = ['init', '--server', '--memfs-root', h.memfsRoot, '--remote', `${h.extRoot}/{agentId}.git`, '--letta-url', h.letta.url, '--mode', 'patched'];
      const fresh = await sameAfter(dirs, () => run([...initArgs, '--dry-run']))();
      expect(fresh.code, fresh.err).toBe(0);
      expect((await run(initArgs)).code).toBe(0);
      // Work for each command: a server edit and an external push (pull would merge), loose objects (maintain).
      await serverEdit(a.gitDir, { label: 'system/a', content: '---\ndescription: a\n---\nserver side\n' });
      await clientPush(h.extPath(a.agentId), path.join(h.root, 'client-a'), 'system/b.md', '---\ndescription: b\n---\nexternal\n');
      for (const args of [
        [...initArgs, '--dry-run'],
        ['pull', '--all', '--dry-run'],
        ['maintain', '--all', '--dry-run'],
        ['restore', '--agent', a.agentId, '--dry-run'],
        ['uninstall', '--server', '--all', '--dry-run'],
      ]) {
        const r = await sameAfter(dirs, () => run(args))();
        expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(0);
        covered.add(args[1] === '--server' ? `${args[0]} --server` : args[0]);
      }
    }, 120_000);
  });

  it('covers every command that takes --dry-run, in every role', () => {
    expect(commandsTakingDryRun(t.dir)).toEqual([...covered].sort());
  });
});
