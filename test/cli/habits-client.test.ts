/**
 * Issue 10, client side and the CLI as a whole: each bullet against the built CLI (dist/runtime/cli.mjs) in a temp HOME,
 * asserting the exit code and the first line a user sees.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AGENT, AGENT2, cli, cliOnTty, commitAll, gitOk, makeCheckout, md, requireBuild, type Sandbox, sandbox, snapshot, tempDir, writeFile } from '../client/env.js';

requireBuild();
const AGENT3 = 'agent-323e4567-e89b-42d3-a456-426614174002';
const first = (s: string) => s.split('\n')[0];

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A temp HOME with Letta Code checkouts under ~/.letta/agents/<id>/memory (one commit each) and a bare repo dir. */
function world(agents: string[] = [AGENT]): { sb: Sandbox; root: string; ext: string; checkout: (id?: string) => string } {
  const t = tempDir('lmh-habits-');
  cleanups.push(t.cleanup);
  const sb = sandbox(t.dir);
  const ext = path.join(t.dir, 'ext');
  fs.mkdirSync(ext);
  const checkout = (id = AGENT) => path.join(sb.home, '.letta', 'agents', id, 'memory');
  const add = (id: string) => {
    makeCheckout(sb, checkout(id), id);
    writeFile(checkout(id), 'system/human.md', md('the human', 'Ada\n'));
    commitAll(sb, checkout(id), 'Initial commit');
    gitOk(sb, ext, ['init', '-q', '--bare', '-b', 'main', `${id}.git`]);
  };
  for (const a of agents) add(a);
  return { sb, root: t.dir, ext, checkout: (id?: string) => (id && !fs.existsSync(checkout(id)) ? (add(id), checkout(id)) : checkout(id)) };
}

describe('usage errors: exit 2, one line with a fix', () => {
  it('a mistyped command gets "did you mean"', () => {
    const { sb, root } = world([]);
    const r = cli(sb, ['stauts'], { cwd: root });
    expect(r.status).toBe(2);
    // The fix names the command that reaches this install (here node and the built CLI).
    expect(first(r.stderr)).toMatch(/^letta-memfs-hooks: unknown command "stauts" \(fix: did you mean ".+ status"\?\)$/);
  });

  it("an unknown flag gets our message, not node's parseArgs text, with the closest flag", () => {
    const { sb, root } = world([]);
    const r = cli(sb, ['status', '--jsno'], { cwd: root });
    expect(r.status).toBe(2);
    expect(first(r.stderr)).toBe('letta-memfs-hooks: unknown option --jsno for status (fix: did you mean --json?)');
    expect(r.stderr).not.toMatch(/positional|'/);
    const far = cli(sb, ['init', '--zzzzzz'], { cwd: root });
    expect(far.status).toBe(2);
    expect(first(far.stderr)).toMatch(/^letta-memfs-hooks: unknown option --zzzzzz for init \(fix: run .+ init --help\)$/);
  });

  it.each([
    [['init', '--remote'], '--remote needs a value'],
    [['status', '--json=yes'], '--json takes no value'],
    [['init', 'extra'], 'unexpected argument "extra" for init'],
    [['watch', 'extra', '--memfs-root', '.'], 'unexpected argument "extra" for watch'],
    [['maintain', '--all', 'extra', '--memfs-root', '.'], 'unexpected argument "extra" for maintain'],
    [['sync', '--all', 'extra', '--memfs-root', '.'], 'unexpected argument "extra" for sync'],
    [['status', '--server', 'extra', '--memfs-root', '.'], 'unexpected argument "extra" for status --server'],
    [['uninstall', '--bogus'], 'unknown option --bogus for uninstall'],
    [['pull', '--memfs-root', '.'], 'pull needs --agent <id> or --all'],
    [['watch', '--interval', 'soon', '--memfs-root', '.'], '--interval must be a non-negative number'],
    [['watch', '--log-format', 'xml', '--memfs-root', '.'], '--log-format must be text or json'],
    [['doctor', '--remotes', 'many'], '--remotes must be a whole number'],
    [['patch-server'], 'patch-server needs exactly one of'],
    [['init', '--local', '--remote', '/x/{agentId}.git'], '--local and --remote both name the remote'],
    [['help', 'stauts'], 'unknown command "stauts"'],
  ])('%j exits 2: %s', (args, message) => {
    const { sb, root } = world([]);
    fs.mkdirSync(path.join(root, 'repository'));
    const r = cli(sb, args, { cwd: root });
    expect(r.status, r.stderr).toBe(2);
    expect(first(r.stderr)).toContain(message);
    expect(first(r.stderr)).toMatch(/\(fix: .+\)$/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('help <command> shows that command\'s help, as <command> --help does', () => {
    const { sb, root } = world([]);
    const r = cli(sb, ['help', 'init'], { cwd: root });
    expect(r.status).toBe(0);
    expect(first(r.stdout)).toBe('usage: letta-memfs-hooks init [options]            (client: in an agent memory checkout)');
    expect(r.stdout).toBe(cli(sb, ['init', '--help'], { cwd: root }).stdout);
    expect(first(cli(sb, ['help', 'doctor'], { cwd: root }).stdout)).toMatch(/^usage: letta-memfs-hooks doctor /);
  });

  it('status --repo of a missing path says so (not "install git"); with --json the error is JSON on stdout', () => {
    const { sb, root } = world([]);
    const r = cli(sb, ['status', '--repo', '/nonexistent/checkout'], { cwd: root });
    expect(r.status).toBe(1); // well-formed, just not there: not a usage error (README "Exit codes")
    expect(first(r.stderr)).toBe('letta-memfs-hooks: /nonexistent/checkout does not exist (fix: pass the agent memory checkout with --repo <dir>)');
    expect(r.stderr).not.toMatch(/install git/);
    const j = cli(sb, ['status', '--json', '--repo', '/nonexistent/checkout'], { cwd: root });
    expect(j.status).toBe(1);
    expect(JSON.parse(first(j.stdout))).toEqual({ error: '/nonexistent/checkout does not exist', fix: 'pass the agent memory checkout with --repo <dir>', exitCode: 1 });
  });
});

describe('init', () => {
  it('a malformed --agent is a usage error (exit 2) and writes nothing', () => {
    const w = world();
    const before = snapshot(w.sb.home);
    const r = cli(w.sb, ['init', '--yes', '--agent', '../../etc', '--remote', `${w.ext}/{agentId}.git`], { cwd: w.checkout() });
    expect(r.status).toBe(2);
    // The refused value is not repeated (it may hold escapes, or a pasted secret).
    expect(first(r.stderr)).toBe(
      "letta-memfs-hooks: invalid --agent: expected agent-<uuid> (or agent-local-<uuid> for Letta Code's local backend; lower-case hex) (fix: pass the id shown by Letta, e.g. --agent agent-123e4567-e89b-42d3-a456-426614174000)",
    );
    expect(snapshot(w.sb.home)).toEqual(before);
  });

  it('no remote anywhere and no terminal: exit 2, the fix names --remote and --local', () => {
    const w = world();
    const r = cli(w.sb, ['init', '--yes'], { cwd: w.checkout() });
    expect(r.status).toBe(2);
    expect(first(r.stderr)).toMatch(/^letta-memfs-hooks: no external remote configured \(fix: pass --remote .* \(or --local for a bare repo on this machine\)/);
  });

  it('a re-run without --remote reuses the remote it recorded', () => {
    const w = world();
    const remote = `${w.ext}/{agentId}.git`;
    expect(cli(w.sb, ['init', '--yes', '--remote', remote], { cwd: w.checkout() }).status).toBe(0);
    const again = cli(w.sb, ['init', '--yes'], { cwd: w.checkout() });
    expect(again.status, again.stderr).toBe(0);
    expect(first(again.stdout)).toBe(`set up ${AGENT} in ${w.checkout()}`);
    expect(gitOk(w.sb, w.checkout(), ['remote', 'get-url', '--push', 'origin'])).toBe(`${w.ext}/${AGENT}.git`);
  });

  it('--dry-run prints the plan and leaves the checkout and HOME byte-identical', () => {
    const w = world();
    const before = [snapshot(w.sb.home), snapshot(w.ext)];
    const r = cli(w.sb, ['init', '--yes', '--dry-run', '--remote', `${w.ext}/{agentId}.git`], { cwd: w.checkout() });
    expect(r.status, r.stderr).toBe(0);
    expect(first(r.stdout)).toBe(`dry run: init would set up ${AGENT} in ${w.checkout()} (nothing was written)`);
    expect(r.stdout).toContain(`set       url.${w.ext}/${AGENT}.git.insteadOf`);
    expect([snapshot(w.sb.home), snapshot(w.ext)]).toEqual(before);
  });

  it('--local: zero config, a bare repo per agent under ~/.letta/memfs-remote created on demand, and a push lands there', () => {
    const w = world();
    const r = cli(w.sb, ['init', '--local', '--yes'], { cwd: w.checkout() });
    expect(r.status, r.stderr).toBe(0);
    expect(first(r.stdout)).toBe(`set up ${AGENT} in ${w.checkout()}`);
    const bare = path.join(w.sb.home, '.letta', 'memfs-remote', `${AGENT}.git`);
    expect(gitOk(w.sb, w.checkout(), ['push', '-q', 'origin', 'main'])).toBe('');
    expect(gitOk(w.sb, bare, ['rev-parse', 'main'])).toBe(gitOk(w.sb, w.checkout(), ['rev-parse', 'HEAD']));
  });

  it('on a terminal with no remote configured, init offers the local bare repo', async () => {
    const w = world();
    const r = await cliOnTty(w.sb, ['init'], w.checkout(), [[/local bare repo per agent .*\[Y\/n\]/, 'y']]);
    expect(r.status, r.screen).toBe(0);
    expect(r.screen).toContain(`set up ${AGENT}`);
    expect(fs.existsSync(path.join(w.sb.home, '.letta', 'memfs-remote', `${AGENT}.git`, 'HEAD'))).toBe(true);
  });

  it('--all sets up every ~/.letta/agents/*/memory with one template; a re-run picks up an agent created later', () => {
    const w = world([AGENT, AGENT2]);
    const r = cli(w.sb, ['init', '--all', '--remote', `${w.ext}/{agentId}.git`], { cwd: w.root });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(first(r.stdout)).toBe(`${AGENT}: set up, 3 Letta URL(s) -> ${w.ext}/${AGENT}.git`);
    expect(r.stdout).toContain('2 checkout(s), 2 set up, 0 failed');
    expect(r.stderr).not.toMatch(/of 2/); // no progress line when stderr is not a terminal

    w.checkout(AGENT3); // Letta Code cloned a new agent since
    const later = cli(w.sb, ['init', '--all'], { cwd: w.root });
    expect(later.status, later.stdout + later.stderr).toBe(0);
    expect(later.stdout).toContain(`${AGENT3}: set up, 3 Letta URL(s) -> ${w.ext}/${AGENT3}.git`);
    expect(gitOk(w.sb, w.checkout(AGENT3), ['remote', 'get-url', 'origin'])).toBe(`${w.ext}/${AGENT3}.git`);
  });

  it('--all on a terminal shows progress (n of N, elapsed)', async () => {
    const w = world([AGENT, AGENT2]);
    const r = await cliOnTty(w.sb, ['init', '--all', '--remote', `${w.ext}/{agentId}.git`], w.root, []);
    expect(r.status, r.screen).toBe(0);
    expect(r.screen).toMatch(/init: 1 of 2, \d+\.\d s/);
    expect(r.screen).toMatch(/init: 2 of 2, \d+\.\d s/);
  });
});

describe('uninstall', () => {
  it('twice: the second run says "nothing to uninstall" and exits 0', () => {
    const w = world();
    cli(w.sb, ['init', '--local', '--yes'], { cwd: w.checkout() });
    const once = cli(w.sb, ['uninstall'], { cwd: w.checkout() });
    expect(once.status).toBe(0);
    expect(first(once.stdout)).toMatch(/^uninstalled from /);
    const twice = cli(w.sb, ['uninstall'], { cwd: w.checkout() });
    expect(twice.status).toBe(0);
    expect(first(twice.stdout)).toBe(`nothing to uninstall: letta-memfs-hooks is not set up in ${w.checkout()}`);
  });

  it('--dry-run prints what would go and changes nothing', () => {
    const w = world();
    cli(w.sb, ['init', '--local', '--yes'], { cwd: w.checkout() });
    const before = snapshot(w.sb.home);
    const r = cli(w.sb, ['uninstall', '--dry-run'], { cwd: w.checkout() });
    expect(r.status).toBe(0);
    expect(first(r.stdout)).toBe(`dry run: uninstall from ${w.checkout()} would`);
    expect(r.stdout).toContain('remove hook ');
    expect(snapshot(w.sb.home)).toEqual(before);
  });
});

describe('doctor in a client checkout', () => {
  it('checks set-up, redirect, hooks and the remote through origin; a lost redirect fails with its fix', () => {
    const w = world();
    cli(w.sb, ['init', '--local', '--yes'], { cwd: w.checkout() });
    const ok = cli(w.sb, ['doctor'], { cwd: w.checkout() });
    expect(ok.status, ok.stdout).toBe(0);
    expect(first(ok.stdout)).toMatch(new RegExp(`^ok   set up: ${AGENT} -> `));
    expect(ok.stdout).toMatch(/^ok {3}redirect: /m);
    expect(ok.stdout).toMatch(/^ok {3}hooks: /m);
    expect(ok.stdout).toMatch(/^ok {3}remote reachable: /m);

    const bare = path.join(w.sb.home, '.letta', 'memfs-remote', `${AGENT}.git`);
    gitOk(w.sb, w.checkout(), ['config', '--unset-all', `url.${bare}.insteadOf`]);
    const bad = cli(w.sb, ['doctor', '--repo', w.checkout()], { cwd: w.root });
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/^FAIL redirect: origin goes to .* \(fix: re-run .+ init in this checkout\)$/m);
  });
});
