// Stock mode with a mirror: an UNPATCHED letta server whose LETTA_MEMFS_SERVICE_URL points at our `serve`, the
// external git host (basic auth) as every agent's `letta-memfs` remote set up by `init --server`, and git run
// with Letta Code 0.32.18's exact argv. serve and Letta can each be restarted on the same port.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { startGitHost, type GitHost } from '../../fixtures/git-host.js';
import { type CliProcess, cliOk } from './cli.js';
import { startServe } from './serve.js';
import { git } from './repo.js';
import { Rest, type Block } from './rest.js';
import { freePort, LettaServer } from './server.js';

const run = promisify(execFile);
const TOKEN = `host-token-${randomBytes(8).toString('hex')}`;
export const LETTA_KEY = 'sk-let-e2e-direct-not-a-real-key';

/**
 * Letta Code 0.32.18's git calls (npm bundle letta.js, `runGit` at byte 4784792): GIT_DISABLE_COMMIT_SIGNING_ARGS,
 * then buildGitAuthArgs(token) (`-c credential.helper= -c core.askPass= -c http.extraHeader=Authorization: Basic
 * base64(letta:<key>)`), then the command; env from buildNonInteractiveGitEnv.
 */
export const LC_ARGS = ['-c', 'commit.gpgsign=false', '-c', 'credential.helper=', '-c', 'core.askPass=', '-c', `http.extraHeader=Authorization: Basic ${Buffer.from(`letta:${LETTA_KEY}`).toString('base64')}`];
export const LC_ENV = { GIT_TERMINAL_PROMPT: '0', GCM_INTERACTIVE: 'never', GIT_ASKPASS: '', SSH_ASKPASS: '' };

export interface GitRun {
  code: number;
  out: string;
  err: string;
}

/** git with Letta Code's argv and environment, without blocking this process. */
export async function lcGit(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<GitRun> {
  try {
    const r = await run('git', [...LC_ARGS, ...args], { cwd, env: { ...process.env, ...LC_ENV, ...env }, timeout: 120_000 });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, out: String(err.stdout ?? ''), err: String(err.stderr ?? '') };
  }
}

export class StockStack {
  private serveProc?: CliProcess;
  /** Logs of every serve process so far, oldest first. */
  private serveLogs: string[] = [];
  private constructor(
    readonly server: LettaServer,
    readonly host: GitHost,
    readonly api: Rest,
    private readonly servePort: number,
    private readonly secret: string,
  ) {}

  static async start(name: string): Promise<StockStack> {
    const secret = randomBytes(24).toString('hex');
    const port = await freePort();
    const [server, host] = await Promise.all([
      LettaServer.start({ venv: inject('lettaVenv'), name, memfsServiceUrl: `http://127.0.0.1:${port}/${secret}` }),
      startGitHost({ user: 'git', token: TOKEN }),
    ]);
    mkdirSync(server.memfsRoot, { recursive: true });
    const s = new StockStack(server, host, new Rest(server.url), port, secret);
    await s.startServe();
    return s;
  }

  get token(): string {
    return TOKEN;
  }

  /** The toolkit's server-side settings, as an operator exports them. */
  env(): NodeJS.ProcessEnv {
    return {
      LETTA_MEMFS_ROOT: this.server.memfsRoot,
      LETTA_MEMFS_GIT_URL: `${this.host.url}/agents/{agentId}.git`,
      LETTA_BASE_URL: this.server.url,
      LETTA_MEMFS_GIT_TOKEN: TOKEN,
    };
  }

  async startServe(): Promise<void> {
    this.serveLogs.push('');
    this.serveProc = await startServe({ memfsRoot: this.server.memfsRoot, port: this.servePort, secret: this.secret, lettaUrl: this.server.url, args: ['--check-after', '2'], env: this.env() });
  }

  /** SIGTERM: serve finishes running requests, then exits. */
  async stopServe(): Promise<void> {
    const p = this.serveProc;
    this.serveProc = undefined;
    if (!p) return;
    await p.stop();
    this.serveLogs[this.serveLogs.length - 1] = p.log;
  }

  serveLog(): string {
    return [...this.serveLogs.slice(0, -1), this.serveProc?.log ?? this.serveLogs.at(-1) ?? ''].join('');
  }

  /** A git-enabled agent, its empty external repo, and `init --server` for it. */
  async provision(name: string): Promise<string> {
    const agent = await this.api.createAgent(name);
    await this.host.createRepo(`agents/${agent.id}.git`);
    cliOk(['init', '--server', '--agent', agent.id], this.env());
    return agent.id;
  }

  hostMain(agentId: string): string | undefined {
    try {
      return this.host.git(`agents/${agentId}.git`, ['rev-parse', '--verify', '-q', 'refs/heads/main']) || undefined;
    } catch {
      return undefined;
    }
  }

  serverMain(agentId: string): string {
    return git(['--git-dir', this.server.repoGitDir(agentId), 'rev-parse', 'main']).trim();
  }

  async stop(): Promise<void> {
    await this.stopServe();
    await Promise.all([this.server.stop(), this.host.close()]);
  }
}


/**
 * Blocks as the files of main say they should be: every `*.md` outside skills/ is a block whose value is the file's
 * body after its frontmatter (facts §1, block_markdown.py @ 0.16.7). Returns the labels that differ.
 */
export function unsynced(gitDir: string, blocks: Block[]): string[] {
  const files = git(['--git-dir', gitDir, 'ls-tree', '-r', '--name-only', 'main']).split('\n').filter((f) => f.endsWith('.md') && !f.startsWith('skills/'));
  return files.filter((f) => {
    const text = git(['--git-dir', gitDir, 'show', `main:${f}`]);
    const m = /^---\n[\s\S]*?\n---\n?/.exec(text);
    const value = m ? text.slice(m[0].length) : text;
    return blocks.find((b) => b.label === f.slice(0, -3))?.value !== value;
  });
}
