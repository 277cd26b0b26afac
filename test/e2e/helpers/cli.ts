// Runs the bundled CLI (dist/runtime/cli.mjs, the package's bin) the way an operator would, with settings in the environment.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './env.js';

export const CLI = join(REPO_ROOT, 'dist/runtime/cli.mjs');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv, cwd = REPO_ROOT): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/**
 * runCli without blocking this process: timers keep running meanwhile (the Rest helper's idle-socket drop, proxies
 * served from the test process).
 */
export async function runCliAsync(args: string[], env: NodeJS.ProcessEnv, cwd = REPO_ROOT): Promise<CliResult> {
  const { spawn } = await import('node:child_process');
  const proc = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => (stdout += String(d)));
  proc.stderr.on('data', (d) => (stderr += String(d)));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 120_000);
  const code = await new Promise<number | null>((resolve) => proc.on('close', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Like runCli, but throws with the command's output when it exits non-zero. */
export function cliOk(args: string[], env: NodeJS.ProcessEnv, cwd?: string): CliResult {
  return okOrThrow(args, runCli(args, env, cwd));
}

function okOrThrow(args: string[], r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`letta-memfs-hooks ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

/** Like runCliAsync, but throws with the command's output when it exits non-zero. */
export async function cliOkAsync(args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<CliResult> {
  return okOrThrow(args, await runCliAsync(args, env, cwd));
}

/** A long-running CLI process (e.g. `watch`) in its own process group; stop() sends SIGTERM and waits. */
export class CliProcess {
  private output = '';
  private exited?: number | null;
  private constructor(private readonly proc: import('node:child_process').ChildProcess) {
    proc.stdout?.on('data', (d) => (this.output += String(d)));
    proc.stderr?.on('data', (d) => (this.output += String(d)));
    proc.once('exit', (code) => (this.exited = code));
  }

  static async start(args: string[], env: NodeJS.ProcessEnv): Promise<CliProcess> {
    const { spawn } = await import('node:child_process');
    const proc = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    return new CliProcess(proc);
  }

  get log(): string {
    return this.output;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Sends a signal to the process group without waiting (kill -9 of a replica in the fault test). */
  signalGroup(signal: NodeJS.Signals): void {
    try {
      if (this.proc.pid) process.kill(-this.proc.pid, signal);
    } catch {
      /* gone */
    }
  }

  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.output)) {
      if (this.exited !== undefined) throw new Error(`process exited (${this.exited}) before ${pattern}; output:\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; output:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<number | null | undefined> {
    if (this.exited === undefined && this.proc.pid) {
      const done = new Promise<void>((r) => this.proc.once('exit', () => r()));
      try {
        process.kill(-this.proc.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      const t = setTimeout(() => {
        try {
          process.kill(-this.proc.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 10_000);
      await done;
      clearTimeout(t);
    }
    return this.exited;
  }
}
