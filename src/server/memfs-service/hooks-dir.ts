/**
 * The hooks directory of the service's receive-pack. It is handed to git as `core.hooksPath` through the environment
 * of the receive-pack we spawn (backend.ts), never written into repo.git/config: Letta copies that config into its
 * temp clones (facts §1), and a file in repo.git/hooks would lose its exec bit in Letta's copies anyway. So git runs
 * only hooks from this directory for our pushes (repo.git/hooks is not consulted), and only for those.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { entryPath } from '../../core/package.js';

// Paths come through the environment, so the script is constant text: nothing is quoted into shell.
const PRE_RECEIVE = `#!/bin/sh
# letta-memfs-hooks serve: validates pushes to main (core.hooksPath given to this receive-pack only).
exec "$LMH_SERVICE_NODE" "$LMH_SERVICE_PRE_RECEIVE"
`;

export interface ServiceHooks {
  dir: string;
  env: Record<string, string>;
  remove: () => Promise<void>;
}

/** A private (0700) directory with our pre-receive; removed when the service stops. */
export async function createServiceHooks(): Promise<ServiceHooks> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'letta-memfs-serve-hooks-'));
  await chmod(dir, 0o700);
  await writeFile(path.join(dir, 'pre-receive'), PRE_RECEIVE, { mode: 0o700 });
  return {
    dir,
    env: { LMH_SERVICE_NODE: process.execPath, LMH_SERVICE_PRE_RECEIVE: entryPath('pre-receive') },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
