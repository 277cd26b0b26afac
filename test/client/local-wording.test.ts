/**
 * Issue 24 item 5: what a local-backend checkout's user reads is true. A path remote (a bare repo on this machine) as
 * the host, Letta Code 0.32.18's local-backend git calls replayed (test/fixtures/letta-code-local.ts), the built CLI.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { lcCommit, lcInitialize } from '../fixtures/letta-code-local.js';
import { cli, git, gitOk, md, ROOT, type Sandbox, sandbox, snapshot, tempDir } from './env.js';

const ID = 'agent-local-7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f';
const ID2 = 'agent-local-8d2e3f4a-5b6c-4d7e-9f8a-0b1c2d3e4f5a';
const SEED = { 'system/persona.md': md('Who I am', 'Helpful.\n') };
const t = tempDir('lmh-wording-');
afterAll(() => t.cleanup());

function machine(name: string, env: Record<string, string> = {}): { sb: Sandbox; dir: (id?: string, storage?: string) => string } {
  const sb = sandbox(path.join(t.dir, name), env);
  return { sb, dir: (id = ID, storage = path.join(sb.home, '.letta', 'lc-local-backend')) => path.join(storage, 'memfs', id, 'memory') };
}

function bare(sb: Sandbox, p: string): string {
  gitOk(sb, t.dir, ['init', '-q', '--bare', '-b', 'main', p]);
  return p;
}

describe('local backend wording', () => {
  it('init, init --dry-run and status say what a path remote and a local checkout are', () => {
    const m = machine('a');
    const dir = m.dir();
    lcInitialize(m.sb, dir, ID, SEED);
    const missing = path.join(t.dir, 'a', 'nowhere', `${ID}.git`);

    // The dry run lists the four hooks init installs and does not promise a bare repo init would refuse.
    const dry = cli(m.sb, ['init', '--dry-run', '--yes', '--remote', missing], { cwd: dir });
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('hooks     pre-push, post-merge, post-checkout, reference-transaction into');
    expect(dry.stdout).toMatch(/MISSING: init would refuse; create it with git init --bare/);
    expect(dry.stdout).not.toMatch(/created if missing/);
    const refused = cli(m.sb, ['init', '--yes', '--remote', missing], { cwd: dir });
    expect(refused.status).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/cannot read .*nowhere.*: '.*' does not appear to be a git repository \(fix: create it \(git init --bare /);
    expect(refused.stderr).not.toMatch(/and the repository exists/);
    // --local does create it, and the dry run says so (without creating it).
    const local = cli(m.sb, ['init', '--dry-run', '--yes', '--local'], { cwd: dir });
    expect(local.stdout).toMatch(/memfs-remote\/agent-local-[^ ]+\.git \(a local bare repo, created by init\)/);
    expect(fs.existsSync(path.join(m.sb.home, '.letta', 'memfs-remote'))).toBe(false);

    const host = bare(m.sb, path.join(t.dir, 'a', 'host', `${ID}.git`));
    const init = cli(m.sb, ['init', '--yes', '--remote', host], { cwd: dir });
    expect(init.status, init.stderr).toBe(0);
    expect(init.stdout).toContain('auth      none: a path on this machine (its file permissions apply)');
    expect(init.stdout).not.toMatch(/ssh keys/);
    expect(cli(m.sb, ['pull'], { cwd: dir }).status).toBe(0);

    const st = cli(m.sb, ['status'], { cwd: dir });
    expect(st.status, st.stdout).toBe(0);
    expect(st.stdout).toMatch(/^origin +the remote itself \(local backend: fetch and push go straight to it\)$/m);
    expect(st.stdout).not.toMatch(/redirected/);
    expect(st.stdout).toMatch(/^pull round +\d{4}-/m);
    expect(st.stdout).not.toMatch(/^last pull /m);
    const doctor = cli(m.sb, ['doctor'], { cwd: dir });
    expect(doctor.stdout).toMatch(/origin is the external remote itself \(local backend: nothing to redirect\)/);
  }, 60_000);

  it("names a merge as this checkout's edits with the host's main", async () => {
    const m = machine('b');
    const dir = m.dir();
    lcInitialize(m.sb, dir, ID, SEED);
    const host = bare(m.sb, path.join(t.dir, 'b', 'host', `${ID}.git`));
    expect(cli(m.sb, ['init', '--yes', '--remote', host], { cwd: dir }).status).toBe(0);
    expect(cli(m.sb, ['pull'], { cwd: dir }).status).toBe(0);
    const other = path.join(t.dir, 'b', 'other');
    gitOk(m.sb, t.dir, ['clone', '-q', host, other]);
    fs.writeFileSync(path.join(other, 'system', 'notes.md'), md('Notes', 'elsewhere\n'));
    gitOk(m.sb, other, ['add', '-A']);
    gitOk(m.sb, other, ['commit', '-q', '-m', 'elsewhere']);
    gitOk(m.sb, other, ['push', '-q', 'origin', 'main']);
    lcCommit(m.sb, dir, ID, { 'system/human.md': md('Human', 'Ada\n') }, 'human');
    const r = cli(m.sb, ['pull'], { cwd: dir });
    expect(r.stdout, r.stderr).toMatch(/merge\+push/);
    expect(gitOk(m.sb, dir, ['log', '-1', '--format=%s', 'main'])).toBe("Merge this checkout's edits with the host's main (letta-memfs-hooks)");
  }, 60_000);

  it('uninstall says which keys it put back, and claims no edit when there was none', () => {
    for (const edited of [false, true]) {
      const m = machine(`u${edited}`);
      const dir = m.dir();
      lcInitialize(m.sb, dir, ID, SEED);
      const host = bare(m.sb, path.join(t.dir, `u${edited}`, 'host.git'));
      expect(cli(m.sb, ['init', '--yes', '--remote', host], { cwd: dir }).status).toBe(0);
      if (edited) gitOk(m.sb, dir, ['config', '--local', 'core.editor', 'vi']);
      const u = cli(m.sb, ['uninstall'], { cwd: dir });
      expect(u.status, u.stderr).toBe(0);
      expect(u.stdout).not.toMatch(/edited/);
      if (edited) {
        expect(u.stdout).toMatch(/the \d+ config key\(s\) init set put back one by one \(\.git\/config changed since init, e\.g\. by Letta Code; those changes are kept\)/);
        expect(gitOk(m.sb, dir, ['config', '--local', 'core.editor'])).toBe('vi');
      } else expect(u.stdout).toMatch(/config restored byte for byte/);
      expect(git(m.sb, dir, ['remote']).stdout.trim()).toBe('');
    }
  }, 60_000);

  it('init --all sets up local-backend checkouts under ~/.letta/lc-local-backend and LETTA_LOCAL_BACKEND_DIR', () => {
    const other = path.join(t.dir, 'all', 'storage');
    const m = machine('all', { LETTA_LOCAL_BACKEND_DIR: other });
    const inHome = m.dir(ID);
    const inEnv = m.dir(ID2, other);
    lcInitialize(m.sb, inHome, ID, SEED);
    lcInitialize(m.sb, inEnv, ID2, SEED);
    const template = path.join(t.dir, 'all', 'hosts', '{agentId}.git');
    for (const id of [ID, ID2]) bare(m.sb, template.replace('{agentId}', id));
    const before = snapshot(m.sb.home);
    const dry = cli(m.sb, ['init', '--all', '--dry-run', '--remote', template], { cwd: t.dir });
    expect(dry.status, dry.stdout + dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`${ID2}: would add origin ${template.replace('{agentId}', ID2)} (local backend)`);
    expect(dry.stdout).toContain(`${ID}: would add origin`);
    expect(snapshot(m.sb.home)).toEqual(before);
    const r = cli(m.sb, ['init', '--all', '--remote', template], { cwd: t.dir });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/2 checkout\(s\), 2 set up, 0 already set up, 0 failed/);
    for (const [id, d] of [[ID, inHome], [ID2, inEnv]]) expect(gitOk(m.sb, d, ['remote', 'get-url', 'origin'])).toBe(template.replace('{agentId}', id));
  }, 60_000);

  it('pull outside a checkout says what it needs for either role', () => {
    const m = machine('out');
    const r = cli(m.sb, ['pull'], { cwd: t.dir });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/is not a local-backend checkout set up by init, and no agents were named for the server role \(fix: run pull in ~\/\.letta\/lc-local-backend\/memfs\/<agentId>\/memory .*server role: pass --agent <id> or --all\)/);
    expect(r.stderr).not.toMatch(/memfs root/);
  });

  it('documents exit code 3 for a local-backend conflict too, and the agent record to copy to another machine', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(readme).toMatch(/^\| 3 \| a conflict was kept under `refs\/letta-memfs\/conflicts\/`: server role .* and a local-backend checkout \(`pull`, `status`\)/m);
    expect(readme).toMatch(/~\/\.letta\/lc-local-backend\/agents\/.*named by the base64url of its id/s);
    const help = cli(machine('help').sb, ['pull', '--help'], { cwd: t.dir });
    expect(help.stdout).toMatch(/3 a conflict was kept/);
  });

  it('a commit starts no node of ours (the shell hands the push off), and a no-op git reset pushes nothing', () => {
    const m = machine('cost');
    const dir = m.dir();
    lcInitialize(m.sb, dir, ID, SEED);
    const host = bare(m.sb, path.join(t.dir, 'cost', 'host.git'));
    expect(cli(m.sb, ['init', '--yes', '--remote', host], { cwd: dir }).status).toBe(0);
    const log = path.join(dir, '.git', 'letta-memfs', 'push.log');
    const lines = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : []);
    const waitLines = (n: number) => {
      for (let i = 0; i < 300 && lines().length < n; i++) spawnSync('sleep', ['0.1']);
      return lines();
    };
    // Every node that starts during the commit records its argv (NODE_OPTIONS reaches the hooks through git's
    // environment). The hook runtime stays as init installed it: the hooks' guard refuses an altered one.
    const trace = path.join(t.dir, 'cost', 'node-trace.log');
    const tracer = path.join(t.dir, 'cost', 'trace.cjs');
    fs.writeFileSync(tracer, `require('fs').appendFileSync(${JSON.stringify(trace)}, JSON.stringify(process.argv) + '\\n');\n`);
    const traced = { ...m.sb, env: { ...m.sb.env, NODE_OPTIONS: `--require ${tracer}` } };
    const oid = lcCommit(traced, dir, ID, { 'system/human.md': md('Human', 'Ada\n') }, 'human')!;
    expect(waitLines(1)).toHaveLength(1);
    expect(lines()[0]).toMatch(new RegExp(`push ${oid.slice(0, 12)}: ok`));
    expect(gitOk(m.sb, t.dir, ['--git-dir', host, 'rev-parse', 'main'])).toBe(oid);
    // The only node of ours is the detached background push; the hook runner never started inside the commit.
    const started = fs.readFileSync(trace, 'utf8').split('\n').filter(Boolean);
    expect(started.filter((a) => a.includes('background-push'))).toHaveLength(1);
    expect(started.filter((a) => /hook\.mjs|reference-transaction/.test(a))).toEqual([]);
    const reset = git(m.sb, dir, ['reset']);
    expect(reset.status).toBe(0);
    expect(reset.stderr).toBe('');
    spawnSync('sleep', ['1']);
    expect(lines()).toHaveLength(1);
  }, 60_000);
});
