// A real `letta server` for one test file: its own PostgreSQL database (letta_e2e_<random>, schema from
// scripts/e2e/create_schema.py), an isolated HOME (so memfs lives in <home>/.letta/memfs), a free port on
// 127.0.0.1, LETTA_MEMFS_SERVICE_URL=local. Killed by process group and its database dropped on stop().
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './env.js';

const execFileAsync = promisify(execFile);

export const DEFAULT_ORG = 'org-00000000-0000-4000-8000-000000000000';

export interface ServerOptions {
  venv: string;
  /** Directory put first on PYTHONPATH (the patched letta/ copy); undefined runs the venv as installed. */
  patchedDir?: string;
  name: string;
  /** Secure mode (LETTA_SERVER_SECURE=true): every route but health then needs `Authorization: Bearer <password>`. */
  password?: string;
  /** LETTA_MEMFS_SERVICE_URL; default `local` (no git service: the proxy fails). Stock mode points it at `serve`. */
  memfsServiceUrl?: string;
  /** Letta's Redis (LETTA_REDIS_HOST/PORT): server commits then take memory_repo:lock:<agent>. */
  redis?: { host: string; port: number };
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

function adminUri(): string {
  return process.env.LETTA_E2E_PG_ADMIN_URI ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
}

/**
 * Runs a script of ours with the venv's Python without blocking this process: the schema creation imports all of
 * letta and can take over a minute on a loaded machine, longer than vitest's worker may go without answering its RPC.
 */
async function py(venv: string, args: string[]): Promise<void> {
  try {
    await execFileAsync(join(venv, 'bin', 'python'), args, { cwd: REPO_ROOT, encoding: 'utf8' });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${args.join(' ')} failed: ${(e.stderr || e.message).trim().split('\n').slice(-3).join(' | ')}`);
  }
}

export class LettaServer {
  readonly home: string;
  readonly db: string;
  port = 0;
  private proc?: ChildProcess;
  private logPath: string;

  private constructor(readonly opts: ServerOptions) {
    this.home = mkdtempSync(join(tmpdir(), `letta-e2e-${opts.name}-`));
    this.db = `letta_e2e_${randomBytes(5).toString('hex')}`;
    this.logPath = join(this.home, 'server.log');
  }

  static async start(opts: ServerOptions): Promise<LettaServer> {
    const s = new LettaServer(opts);
    await py(opts.venv, [join(REPO_ROOT, 'scripts/e2e/db.py'), 'create', s.db]);
    s.port = await freePort();
    await s.boot();
    return s;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get memfsRoot(): string {
    return join(this.home, '.letta', 'memfs');
  }

  repoGitDir(agentId: string, org = DEFAULT_ORG): string {
    return join(this.memfsRoot, 'repository', org, agentId, 'repo.git');
  }

  log(): string {
    try {
      return readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  /** Starts the process (again, after stop({ keepData: true })) and waits for /v1/health/. */
  async boot(): Promise<void> {
    const base = adminUri().replace(/\/[^/]*$/, '');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      LANG: 'C.UTF-8',
      HOME: this.home,
      LETTA_PG_URI: `${base}/${this.db}`,
      LETTA_MEMFS_SERVICE_URL: this.opts.memfsServiceUrl ?? 'local',
      // No Redis: server commits then take no lock (facts §1), which these single-writer tests do not need.
    };
    if (this.opts.patchedDir) env.PYTHONPATH = this.opts.patchedDir;
    if (this.opts.redis) {
      env.LETTA_REDIS_HOST = this.opts.redis.host;
      env.LETTA_REDIS_PORT = String(this.opts.redis.port);
    }
    if (this.opts.password) {
      // Through the environment, never argv (letta/server/rest_api/app.py @ 0.16.7 reads both).
      env.LETTA_SERVER_SECURE = 'true';
      env.LETTA_SERVER_PASSWORD = this.opts.password;
    }
    const fd = openSync(this.logPath, 'a');
    this.proc = spawn(join(this.opts.venv, 'bin', 'letta'), ['server', '--host', '127.0.0.1', '--port', String(this.port)], {
      cwd: this.home,
      env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    const proc = this.proc;
    let exited: number | null | undefined;
    proc.once('exit', (code) => {
      exited = code;
    });
    // A loaded machine (shared cores) can take longer than the usual half a minute: LETTA_E2E_START_SECONDS.
    const startSeconds = Number(process.env.LETTA_E2E_START_SECONDS ?? 120);
    const deadline = Date.now() + startSeconds * 1000;
    while (Date.now() < deadline) {
      if (exited !== undefined) throw new Error(`letta server exited with ${exited} during start-up; log tail:\n${this.log().slice(-3000)}`);
      try {
        const r = await fetch(`${this.url}/v1/health/`);
        if (r.ok) return;
      } catch {
        /* not listening yet */
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    throw new Error(`letta server did not answer /v1/health/ within ${startSeconds} s (fix on a loaded machine: LETTA_E2E_START_SECONDS=300); log tail:\n${this.log().slice(-3000)}`);
  }

  /** Kills the server's process group. With keepData the database and HOME stay for a later boot(). */
  async stop(opts: { keepData?: boolean } = {}): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (proc?.pid && proc.exitCode === null && proc.signalCode === null) {
      const done = new Promise<void>((r) => proc.once('exit', () => r()));
      try {
        process.kill(-proc.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-proc.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 10_000);
      await done;
      clearTimeout(timer);
    }
    if (!opts.keepData) {
      await py(this.opts.venv, [join(REPO_ROOT, 'scripts/e2e/db.py'), 'drop', this.db]);
      if (!process.env.LETTA_E2E_KEEP) rmSync(this.home, { recursive: true, force: true });
    }
  }
}
