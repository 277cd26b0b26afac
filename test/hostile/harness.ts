// Shared assertions of the hostile-input suite: every case checks the exit code, a one-line error that names the
// fix, no stack trace, nothing changed on disk, and the secret nowhere but the 0600 auth file or any argv.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { CLI } from '../helpers/cli.js';
import { snapshot } from '../helpers/repo.js';

export interface Run {
  code: number;
  out: string;
  err: string;
  /** Every command line seen in /proc while the command ran (ours and git's children). */
  argvs: string[];
  /** Our own process's command line as /proc shows it: a test that passes a secret as an argument excludes it. */
  ownArgv: string;
}

/** Command lines of every process, read from /proc (Linux); sampled while a command runs. */
function readArgvs(): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      out.push(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' '));
    } catch {
      // the process ended between readdir and read
    }
  }
  return out;
}

/** Runs the built CLI like a user (private XDG dir), sampling every process's argv while it runs. */
export async function runHostile(
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number; /** instead of process.env (a hermetic sandbox) */ baseEnv?: NodeJS.ProcessEnv },
): Promise<Run> {
  const argvs = new Set<string>();
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: opts.cwd,
    env: { ...(opts.baseEnv ?? { ...process.env, XDG_CONFIG_HOME: path.join(opts.cwd, 'xdg') }), LETTA_MEMFS_INTERNAL: undefined, ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  child.stdin.end(opts.input ?? '');
  const sampler = setInterval(() => readArgvs().forEach((a) => argvs.add(a)), 5);
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
  const code = await new Promise<number>((resolve) => child.on('close', (c, sig) => resolve(c ?? (sig ? 128 : 1))));
  clearInterval(sampler);
  clearTimeout(timer);
  return { code, out, err, argvs: [...argvs], ownArgv: [process.execPath, CLI, ...args].join(' ') };
}

/** A refused command: its exit code, exactly one stderr line naming the fix, no stack trace. */
export function expectRefused(r: Pick<Run, 'code' | 'err'>, code: number, pattern?: RegExp): void {
  expect(r.code, r.err).toBe(code);
  expectOneLineFix(r.err);
  if (pattern) expect(r.err).toMatch(pattern);
}

export function expectOneLineFix(stderr: string): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0], stderr).toMatch(/\(fix: .+\)$/);
  expectNoStack(stderr);
}

export function expectNoStack(text: string): void {
  expect(text).not.toMatch(/^\s+at .+[(:]\d+/m);
  expect(text).not.toMatch(/unexpected error/);
}

/** Every file under the dirs, byte for byte (mode included), for "changed nothing" assertions. */
export function snapshotAll(dirs: readonly string[]): Record<string, Record<string, string>> {
  return Object.fromEntries(dirs.map((d) => [d, snapshot(d)]));
}

/** Files holding the secret outside the allowed ones (which must be mode 0600). */
export function filesWithSecret(dirs: readonly string[], secret: string, allowed: readonly string[] = []): string[] {
  const hits: string[] = [];
  const needle = Buffer.from(secret);
  const walk = (d: string) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && fs.readFileSync(p).includes(needle)) {
        if (allowed.includes(p) && (fs.statSync(p).mode & 0o077) === 0) continue;
        hits.push(p);
      }
    }
  };
  dirs.forEach(walk);
  return hits;
}

/**
 * The secret appears in no output, no argv and no file but the allowed 0600 ones. `exceptOwnArgv`: the test itself
 * passed the secret as an argument of our command (a token given to the wrong option); that one command line is
 * excluded, every other process (git children included) is still checked.
 */
export function expectNoSecret(
  secret: string,
  r: Pick<Run, 'out' | 'err' | 'argvs'> & { ownArgv?: string },
  dirs: readonly string[] = [],
  allowed: readonly string[] = [],
  opts: { exceptOwnArgv?: boolean } = {},
): void {
  expect(r.out).not.toContain(secret);
  expect(r.err).not.toContain(secret);
  const others = r.argvs.filter((a) => !(opts.exceptOwnArgv && a.trimEnd() === r.ownArgv));
  expect(others.filter((a) => a.includes(secret))).toEqual([]);
  expect(filesWithSecret(dirs, secret, allowed)).toEqual([]);
}
