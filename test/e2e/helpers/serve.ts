// `letta-memfs-hooks serve` (dist) for an e2e file: the memfs git service an unpatched Letta's
// LETTA_MEMFS_SERVICE_URL=http://127.0.0.1:<port>/<secret> points at. Resolves once it listens.
import { CliProcess } from './cli.js';

export interface ServeOptions {
  memfsRoot: string;
  port: number;
  secret: string;
  lettaUrl: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
}

export async function startServe(opts: ServeOptions): Promise<CliProcess> {
  const args = ['serve', '--memfs-root', opts.memfsRoot, '--port', String(opts.port), '--letta-url', opts.lettaUrl, ...(opts.args ?? [])];
  const proc = await CliProcess.start(args, { ...opts.env, LETTA_MEMFS_SERVICE_SECRET: opts.secret });
  await proc.waitFor(/on http:/);
  return proc;
}
