/**
 * The hooks directory of the service's receive-pack. It is handed to git as `core.hooksPath` through the environment
 * of the receive-pack we spawn (backend.ts), never written into repo.git/config: Letta copies that config into its
 * temp clones (facts §1), and a file in repo.git/hooks would lose its exec bit in Letta's copies anyway. So git runs
 * only hooks from this directory for our pushes (repo.git/hooks is not consulted), and only for those.
 */
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { entryPath } from '../../core/package.js';
import { writeFileAtomic } from '../../core/fs.js';
import { stateDirOf } from '../../core/settings.js';

// Paths come through the environment, so the script is constant text: nothing is quoted into shell.
const PRE_RECEIVE = `#!/bin/sh
# letta-memfs-hooks serve: validates pushes to main (core.hooksPath given to this receive-pack only).
exec "$LMH_SERVICE_NODE" "$LMH_SERVICE_PRE_RECEIVE"
`;

export interface ServiceHooks {
  dir: string;
  env: Record<string, string>;
}

/**
 * A private (0700) directory with our pre-receive, at a stable place in the memfs root's state dir
 * (`<memfs-root>/letta-memfs/serve-hooks`, next to Letta's `repository/`), rewritten at every start: a service
 * that dies uncleanly leaves nothing behind in /tmp, and two services on one root write the same constant file.
 */
export async function createServiceHooks(memfsRoot: string): Promise<ServiceHooks> {
  const dir = path.join(stateDirOf(memfsRoot), 'serve-hooks');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  await writeFileAtomic(path.join(dir, 'pre-receive'), PRE_RECEIVE, 0o700);
  return { dir, env: { LMH_SERVICE_NODE: process.execPath, LMH_SERVICE_PRE_RECEIVE: entryPath('pre-receive') } };
}
