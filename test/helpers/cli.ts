import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's bin: the esbuild bundle the tarball ships (test/runtime-setup.ts keeps it fresh against src/). */
export const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/runtime/cli.mjs');

/** Runs the bundled CLI as a user would, with a private user config dir; never throws on a non-zero exit. */
export function runCli(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): { code: number; out: string; err: string } {
  try {
    const out = execFileSync(process.execPath, [CLI, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, XDG_CONFIG_HOME: path.join(opts.cwd, 'xdg'), LETTA_MEMFS_INTERNAL: undefined, ...opts.env },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { code: 0, out, err: '' };
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    return { code: err.status, out: err.stdout, err: err.stderr };
  }
}

/** runCli without blocking this process: for tests whose fixtures (the Letta double) answer from its event loop. */
export function runCliAsync(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, XDG_CONFIG_HOME: path.join(opts.cwd, 'xdg'), LETTA_MEMFS_INTERNAL: undefined, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}
