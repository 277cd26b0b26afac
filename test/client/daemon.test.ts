import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLocalAgent, type LettaCodePypi, lettaCodePypi } from '../fixtures/letta-code-pypi.js';
import { CLI, cli, clientSuite, git, gitOk, type Sandbox, sandbox } from './env.js';
import { until as waitFor } from '../helpers/until.js';

// `daemon` on two machines (two HOMEs) with the same 5 local-backend agents, made by real Letta Code 0.34.12
// (`agents create --backend local`, offline) on the laptop and copied to the desktop as Letta Code's metadata only.
// The daemons set the agents up (laptop: from the template one hand-run init recorded; desktop: from the user
// config), then edits on both sides converge through the basic-auth host within two intervals, with no commit lost.
const USER = 'memfs-bot';
const TOKEN = 'daemon-token-91fe';
const AGENTS = 5;
// Seconds. Each merge round also runs Letta Code's checker on the result (a node start), which on 2 loaded cores
// takes a few seconds for 5 agents: 10 s keeps "within two intervals" about the daemon, not the machine.
const INTERVAL = 10;

const suite = clientSuite(USER, TOKEN);
let lc: LettaCodePypi;
beforeAll(() => {
  lc = lettaCodePypi('0.34.12');
}, 900_000);

interface Daemon {
  child: ChildProcess;
  log(): string;
  exited: Promise<number | null>;
}

function startDaemon(sb: Sandbox, args: string[] = []): Daemon {
  const child = spawn(process.execPath, [CLI, 'daemon', '--interval', String(INTERVAL), '--rescan', '1', ...args], { cwd: sb.home, env: sb.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  return { child, log: () => log, exited: new Promise((r) => child.on('close', (code) => r(code))) };
}

const storage = (sb: Sandbox) => path.join(sb.home, '.letta', 'lc-local-backend');
const checkout = (sb: Sandbox, id: string) => path.join(storage(sb), 'memfs', id, 'memory');
const headOf = (sb: Sandbox, id: string) => (fs.existsSync(checkout(sb, id)) ? git(sb, checkout(sb, id), ['rev-parse', '-q', '--verify', 'refs/heads/main']).stdout.trim() : 'none');

/** The shared poller on a boolean condition; returns the ms it took. */
async function until(what: string, ms: number, fn: () => boolean, detail: () => string): Promise<number> {
  const start = Date.now();
  await waitFor(what, () => (fn() ? true : undefined), ms, detail);
  return Date.now() - start;
}

function commit(sb: Sandbox, id: string, rel: string, text: string, message: string): string {
  const dir = checkout(sb, id);
  fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
  fs.writeFileSync(path.join(dir, rel), text);
  gitOk(sb, dir, ['add', '--', rel]);
  gitOk(sb, dir, ['commit', '-q', `--author=x <${id}@letta.com>`, '-m', message, '--', rel]);
  return gitOk(sb, dir, ['rev-parse', 'HEAD']);
}

const core = (name: string, body: string) => `---\nname: ${name}\ndescription: ${name}\n---\n${body}`;

describe('daemon: every local agent of the machine, two machines', () => {
  it('sets up 5 agents on each side and converges edits on both within two intervals, 0 commits lost, stops on SIGTERM', async () => {
    const root = suite.workspace('lmh-daemon-');
    const a = sandbox(path.join(root, 'laptop'), { LETTA_MEMFS_GIT_TOKEN: TOKEN });
    const b = sandbox(path.join(root, 'desktop'), { LETTA_MEMFS_GIT_TOKEN: TOKEN });
    const prefix = `daemon/${Math.random().toString(36).slice(2)}`;
    const ids: string[] = [];
    for (let i = 0; i < AGENTS; i++) {
      const agent = createLocalAgent(lc, a.home, `agent${i}`);
      ids.push(agent.id);
      await suite.host.createRepo(`${prefix}/${agent.id}.git`);
      await new Promise((r) => setImmediate(r));
    }
    const template = `${suite.host.url}/${prefix}/{agentId}.git`;
    const hostMain = (id: string) => {
      try {
        return suite.host.git(`${prefix}/${id}.git`, ['rev-parse', '-q', '--verify', 'refs/heads/main']);
      } catch {
        return 'none'; // no main yet
      }
    };
    // Laptop: init by hand in one checkout records the template; the daemon sets up the other four with it.
    const first = cli(a, ['init', '--yes', '--git-user', USER, '--remote', template], { cwd: checkout(a, ids[0]) });
    expect(first.status, first.stderr).toBe(0);
    // Desktop: the agents' metadata only (as Letta Code lists them once copied); the template in the user config.
    fs.mkdirSync(path.join(storage(b), 'agents'), { recursive: true });
    for (const f of fs.readdirSync(path.join(storage(a), 'agents'))) fs.copyFileSync(path.join(storage(a), 'agents', f), path.join(storage(b), 'agents', f));
    fs.mkdirSync(path.join(b.home, '.config', 'letta-memfs-hooks'), { recursive: true });
    fs.writeFileSync(path.join(b.home, '.config', 'letta-memfs-hooks', 'config.json'), JSON.stringify({ remote: template, gitUsername: USER }));
    // the laptop's other checkouts need the user name too: set up from the recorded template, with the user config
    fs.mkdirSync(path.join(a.home, '.config', 'letta-memfs-hooks'), { recursive: true });
    fs.writeFileSync(path.join(a.home, '.config', 'letta-memfs-hooks', 'config.json'), JSON.stringify({ gitUsername: USER }));

    const da = startDaemon(a);
    await until('the laptop seeds every host repo', 60_000, () => ids.every((id) => hostMain(id) === headOf(a, id)), da.log);
    const db = startDaemon(b);
    await until('the desktop checks every agent out', 60_000, () => ids.every((id) => headOf(b, id) === headOf(a, id)), db.log);
    for (const id of ids) expect(fs.readFileSync(path.join(checkout(b, id), 'persona.md'), 'utf8')).toContain('name: Persona');
    // Logged like watch: ISO time first; per-agent lines with the same outcome folded into one.
    expect(da.log()).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z letta-memfs-hooks: .*\(startup\): set up; seed/m);
    // Lines with one outcome are folded over a short window (core/log-coalesce.ts): the line may follow the checkout.
    await until('the desktop logs its set-up', 15_000, () => /\(startup\): set up; create-main/.test(db.log()), db.log);

    // Edits on both sides at once: each agent gets a commit on the laptop and one (another file) on the desktop.
    const made: string[] = [];
    for (const [i, id] of ids.entries()) {
      made.push(commit(a, id, 'persona.md', core('Persona', `Laptop edit ${i}.\n`), `laptop ${i}`));
      made.push(commit(b, id, 'projects/MEMORY.md', `# Projects\n\nDesktop ${i}.\n`, `desktop ${i}`));
    }
    const converged = () => ids.every((id) => headOf(a, id) === headOf(b, id) && hostMain(id) === headOf(a, id));
    const took = await until('both machines and the host converge', 2 * INTERVAL * 1000, converged, () => `${da.log()}\n---\n${db.log()}`);
    for (const id of ids) {
      const final = headOf(a, id);
      for (const c of made) if (git(a, checkout(a, id), ['cat-file', '-e', c]).status === 0) expect(git(a, checkout(a, id), ['merge-base', '--is-ancestor', c, final]).status, c).toBe(0);
    }
    // Every commit made is in the converged history of its agent (each belongs to exactly one agent's repo).
    const kept = made.filter((c) => ids.some((id) => git(a, checkout(a, id), ['merge-base', '--is-ancestor', c, headOf(a, id)]).status === 0));
    expect(kept.length).toBe(made.length);
    expect(took).toBeLessThanOrEqual(2 * INTERVAL * 1000);

    // SIGTERM: both stop cleanly, exit 0, saying so.
    da.child.kill('SIGTERM');
    db.child.kill('SIGTERM');
    expect(await da.exited).toBe(0);
    expect(await db.exited).toBe(0);
    expect(da.log()).toMatch(/SIGTERM: finishing running rounds/);
  }, 300_000);

  it('refuses bad flags with exit 2 and one line, changing nothing', async () => {
    const root = suite.workspace('lmh-daemon-flags-');
    const sb = sandbox(root);
    for (const [args, re] of [
      [['--interval', 'soon'], /--interval must be a number of seconds/],
      [['--interval', '0'], /--interval must be a number of seconds/],
      [['--remote', 'https://u:hunter2secret@git.example.com/{agentId}.git'], /carries credentials/],
      [['--remote', 'https://git.example.com/one.git'], /must contain \{agentId\}/],
      [['--log-format', 'xml'], /--log-format must be text or json/],
      [['--bogus'], /unknown|bogus/i],
    ] as [string[], RegExp][]) {
      const r = cli(sb, ['daemon', ...args], { cwd: sb.home });
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n').length, r.stderr).toBe(1);
      expect(r.stderr).toMatch(re);
      expect(r.stderr).not.toContain('hunter2secret');
    }
    expect(fs.existsSync(path.join(sb.home, '.letta'))).toBe(false);
    const help = cli(sb, ['daemon', '--help'], { cwd: sb.home });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/usage: letta-memfs-hooks daemon/);
  });
});
