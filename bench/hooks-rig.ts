// What the hook benches (hook-overhead.ts, commit-overhead.ts) share: a hermetic environment in a temp dir (its own
// HOME and XDG dirs, no system or global git config, no inherited GIT_*/LETTA_* variables), and timing of one child
// process in wall and CPU time.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A temp dir and the environment every git and CLI process of the bench runs with. */
export function hermetic(prefix: string): { tmp: string; env: NodeJS.ProcessEnv } {
  const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('GIT_') || k.startsWith('LETTA_')) delete env[k];
  Object.assign(env, {
    HOME: path.join(tmp, 'home'),
    XDG_CONFIG_HOME: path.join(tmp, 'home', '.config'),
    XDG_DATA_HOME: path.join(tmp, 'home', '.local', 'share'),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'b',
    GIT_AUTHOR_EMAIL: 'b@example.invalid',
    GIT_COMMITTER_NAME: 'b',
    GIT_COMMITTER_EMAIL: 'b@example.invalid',
  });
  fs.mkdirSync(env.HOME!, { recursive: true });
  return { tmp, env };
}

/**
 * CPU time (user + system) of this process's waited-for children, git and its hooks included, in ms (Linux: clock
 * ticks of 10 ms, fine once summed over many runs). On a machine shared with other work, wall time mostly measures
 * the queue for a core; CPU time is what the hooks themselves cost. A detached child (the background push) is not
 * waited for, so it is not counted.
 */
export function childCpuMs(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10; // cutime, cstime (proc(5) fields 16 and 17), at 100 Hz
}

/** Runs one process to completion: its wall time and the CPU time of it and its children, in ms. */
export function timed(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): { ms: number; cpuMs: number } {
  const c0 = childCpuMs();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return { ms, cpuMs: childCpuMs() - c0 };
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
