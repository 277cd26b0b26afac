// `letta-memfs-hooks serve` (dist) for an e2e file: the memfs git service an unpatched Letta's
// LETTA_MEMFS_SERVICE_URL=http://127.0.0.1:<port>/<secret> points at. Resolves once it listens.
import { type ChildProcess, spawn } from 'node:child_process';
import { expect } from 'vitest';
import { CLI } from './cli.js';

export interface Serve {
  proc: ChildProcess;
  /** Its stderr so far (its log). */
  log: () => string;
}

export async function startServe(opts: { memfsRoot: string; port: number; secret: string; lettaUrl: string; args?: string[]; env?: NodeJS.ProcessEnv }): Promise<Serve> {
  const proc = spawn(process.execPath, [CLI, 'serve', '--memfs-root', opts.memfsRoot, '--port', String(opts.port), '--letta-url', opts.lettaUrl, ...(opts.args ?? [])], {
    env: { ...process.env, ...opts.env, LETTA_MEMFS_SERVICE_SECRET: opts.secret },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  proc.stderr!.on('data', (d) => (log += d));
  for (let i = 0; i < 100 && !/on http:/.test(log); i++) await new Promise((r) => setTimeout(r, 100));
  expect(log).toMatch(/on http:/);
  return { proc, log: () => log };
}
