import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** One patch of the set, applied with `patch -p1` in the directory that contains `letta/`. */
export interface ServerPatch {
  file: string;
  summary: string;
}

// Apply order matters: 03 calls the get_files_detailed() that 01 adds (see patches/README.md).
export const SERVER_PATCHES: readonly ServerPatch[] = [
  { file: '01-binary-safe-reads.patch', summary: 'skip non-UTF-8 repo files with a warning instead of failing every read' },
  { file: '02-shared-block-deletion.patch', summary: 'deleting a block unlinks one agent; hard delete only once no agent uses it' },
  { file: '03-sync-from-git-endpoint.patch', summary: 'POST /v1/agents/{agent_id}/memory/sync-from-git (guarded, shared with post-push sync)' },
];

/**
 * Versions the set was verified on (patches/README.md, tested-versions table). 0.16.6 is left out on
 * purpose: it crashes at start-up whenever LETTA_MEMFS_SERVICE_URL is set (fixed upstream in 0.16.7).
 */
export const SUPPORTED_VERSIONS: readonly string[] = ['0.16.7', '0.16.8'];

/** The package's patches/ directory (shipped in the npm package next to dist/). */
export function patchesDir(): string {
  // src/patch-server/*.ts and dist/patch-server/*.js are both two levels below the package root.
  const dir = fileURLToPath(new URL('../../patches/', import.meta.url));
  if (!existsSync(dir)) throw new Error(`patches directory missing at ${dir}; the package is incomplete`);
  return dir;
}
