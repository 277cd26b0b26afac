// A memfs root laid out like Letta's (repository/<org>/<agent>/repo.git, the .git of a non-bare repo made with
// `git init -b main`: letta/services/memory_repo/git_operations.py @ 0.16.7) and the real `serve` command on it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import path from 'node:path';
import { blockValueOf } from '../../src/server/memfs-service/recompile.js';
import { CLI } from '../helpers/cli.js';
import { sh, tempDir } from '../helpers/repo.js';

export const ORG = 'org-00000000-0000-4000-8000-000000000000';
export const OTHER_ORG = 'org-11111111-1111-4111-8111-111111111111';

const execFileP = promisify(execFile);

export const newAgentId = (): string => `agent-${randomUUID()}`;

export function memfsFile(description: string, body: string, extra = ''): string {
  return `---\ndescription: ${description}\n${extra}---\n${body}`;
}

/** Creates repo.git for an agent the way Letta does, with system/human.md committed on main. */
export function createAgentRepo(root: string, agent: string, org = ORG, files: Record<string, string> = { 'system/human.md': memfsFile('About the human', 'Ada') }): string {
  const work = fs.mkdtempSync(path.join(root, '.mk-'));
  sh(work, ['init', '-q', '-b', 'main']);
  for (const [p, c] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(work, p)), { recursive: true });
    fs.writeFileSync(path.join(work, p), c);
  }
  sh(work, ['add', '-A']);
  sh(work, ['commit', '-q', '-m', 'Initial commit']);
  const gitDir = path.join(root, 'repository', org, agent, 'repo.git');
  fs.mkdirSync(path.dirname(gitDir), { recursive: true });
  fs.renameSync(path.join(work, '.git'), gitDir);
  fs.rmSync(work, { recursive: true, force: true });
  return gitDir;
}

/** A user of OTHER_ORG: the stand-in Letta below lets it reach OTHER_ORG's agents only. */
export const OTHER_USER = 'user-99999999-9999-4999-8999-999999999999';

/** Blocks as Letta's sync makes them from main: every synced *.md is a block labelled by its path. */
async function blocksOf(gitDir: string): Promise<{ label: string; value: string }[]> {
  const files = (await execFileP('git', ['--git-dir', gitDir, 'ls-tree', '-r', '--name-only', 'main'])).stdout.split('\n').filter((f) => f.endsWith('.md'));
  return Promise.all(files.map(async (f) => ({ label: f.slice(0, -3), value: blockValueOf((await execFileP('git', ['--git-dir', gitDir, 'show', `main:${f}`])).stdout) })));
}

/**
 * A stand-in for the Letta REST API serve asks (unit tests only; test/e2e uses a real Letta): GET /v1/agents/<id>
 * answers 200 when the actor's org (OTHER_USER: OTHER_ORG, anyone else: Letta's default user, ORG) has the agent's
 * repo, else 404 as Letta does; blocks come from main (so after-push waits end at once); recompile is acknowledged.
 */
export async function startLettaStandIn(root: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const reply = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const m = /^\/v1\/agents\/(agent-[0-9a-f-]+)(\/core-memory\/blocks|\/recompile)?(\?.*)?$/.exec(req.url ?? '');
    const org = req.headers.user_id === OTHER_USER ? OTHER_ORG : ORG;
    const gitDir = m ? path.join(root, 'repository', org, m[1], 'repo.git') : '';
    if (!m || !fs.existsSync(gitDir)) return void reply(404, { detail: 'Not Found' });
    if (m[2] === '/recompile') return void reply(200, {});
    if (!m[2]) return void reply(200, { id: m[1] });
    blocksOf(gitDir).then((b) => reply(200, b), () => reply(500, {}));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

export interface Service {
  root: string;
  secret: string;
  port: number;
  proc: ChildProcess;
  log: () => string;
  base: (agent: string) => string;
  stop: () => Promise<void>;
  cleanup: () => void;
}

/** Starts `letta-memfs-hooks serve` on a free port with the secret in the environment; resolves once it listens. */
export async function startService(opts: { args?: string[]; root?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Service> {
  const t = tempDir('lmh-memfs-');
  const root = opts.root ?? path.join(t.dir, 'memfs');
  fs.mkdirSync(root, { recursive: true });
  const secret = randomBytes(24).toString('hex');
  const letta = opts.args?.includes('--letta-url') ? undefined : await startLettaStandIn(root);
  const lettaArgs = letta ? ['--letta-url', letta.url] : [];
  const proc = spawn(process.execPath, [CLI, 'serve', '--memfs-root', root, '--port', '0', ...lettaArgs, ...(opts.args ?? [])], {
    env: { ...process.env, LETTA_MEMFS_SERVICE_SECRET: secret, LETTA_MEMFS_INTERNAL: undefined, ...opts.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  proc.stderr!.on('data', (d) => (log += d));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${log}`)), 10_000);
    proc.on('exit', (c) => reject(new Error(`serve exited ${c}: ${log}`)));
    const check = () => {
      const m = /on http:\/\/[^:]+:(\d+)\/<secret>/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stderr!.on('data', check);
  });
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await done;
    }
    await letta?.close();
  };
  return {
    root,
    secret,
    port,
    proc,
    log: () => log,
    base: (agent) => `http://127.0.0.1:${port}/${secret}/git/${agent}/state.git`,
    stop,
    cleanup: () => t.cleanup(),
  };
}

export interface GitRun {
  code: number;
  out: string;
  err: string;
}

/** Runs a real git client (async, so the service in this process's child can answer), sending the org header. */
export function gitClient(cwd: string, args: string[], org: string | null = ORG): Promise<GitRun> {
  const pre = org ? ['-c', `http.extraHeader=X-Organization-Id: ${org}`] : [];
  const child = spawn('git', [...pre, ...args], {
    cwd,
    env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? 1, out, err })));
}

/** Reads /proc/<pid>/status VmRSS in KiB (Linux). */
export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Waits until the service's log matches (its line for a request comes when git has exited). */
export async function waitForLog(svc: Service, pattern: RegExp, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pattern.test(svc.log())) {
    if (Date.now() > end) throw new Error(`log never matched ${pattern}:\n${svc.log().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let clones = 0;
/** A new agent repo under the service's root and a client clone of it through the service, in `workDir`. */
export async function cloneNewAgent(svc: Service, workDir: string): Promise<{ agent: string; gitDir: string; dir: string }> {
  const agent = newAgentId();
  const gitDir = createAgentRepo(svc.root, agent);
  const dir = path.join(workDir, `c${++clones}`);
  const r = await gitClient(workDir, ['clone', '-q', svc.base(agent), dir]);
  if (r.code !== 0) throw new Error(`clone through serve failed: ${r.err}`);
  return { agent, gitDir, dir };
}
