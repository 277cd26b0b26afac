import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import { exists } from '../core/fs.js';
import { getConfig, type RepoPaths } from '../git/git.js';
import { warn } from '../core/log.js';
import { selfCommand } from '../core/self-command.js';
import { type Role, stateDirOf } from '../core/settings.js';
import { applyConfig, type DesiredConfig, restoreConfig } from '../git/config.js';
import { repoHooksPath } from '../git/hooks-path.js';
import { type Manifest, manifestPath, readManifest, writeManifest } from './manifest.js';
import { releaseRuntime, runtimeBase, useRuntime } from './runtime.js';
import { isOurShim, renderShim } from './shim.js';

// Letta Code rewrites these on every sync (letta-code src/agent/memoryGit.ts @ v0.32.18); a hook of ours there would
// vanish, and chaining theirs would run their frontmatter checks twice.
const CLIENT_OWNED = new Set(['pre-commit', 'post-commit']);

export interface InstallOptions {
  repo: RepoPaths;
  role: Role;
  hooks: readonly string[];
  /** Config the role needs in the repo's own config file (`<commonDir>/config`). */
  config: DesiredConfig;
  /**
   * Known for a batch of installs (`noHooksPathOutsideRepos`): no config outside the repo sets core.hooksPath, so the
   * repo's own config files say where hooks go, read without a git process.
   */
  noHooksPathOutside?: boolean;
  /** Absolute node binary for the shims; defaults to the one running now. */
  node?: string;
  /** Where the hook runtime goes (install/runtime.ts); defaults to the role's per-user place. */
  runtimeBase?: string;
}

/**
 * The directory git runs hooks from: `core.hooksPath` when set (relative to the work tree, githooks(5)), else the
 * common dir's `hooks/` so that linked worktrees share them. We install into a set hooksPath but never set one:
 * it would disable Letta Code's own hooks in `.git/hooks`.
 */
export async function hooksDirOf(repo: RepoPaths, noHooksPathOutside = false): Promise<{ dir: string; viaHooksPath: boolean }> {
  const known = noHooksPathOutside ? repoHooksPath(repo.commonDir) : undefined;
  const hooksPath = known ? known.value : await getConfig('core.hooksPath', repo.workTree ? { cwd: repo.workTree } : { gitDir: repo.gitDir });
  if (!hooksPath) return { dir: path.join(repo.commonDir, 'hooks'), viaHooksPath: false };
  const expanded = hooksPath.startsWith('~/') ? path.join(os.homedir(), hooksPath.slice(2)) : hooksPath;
  return { dir: path.resolve(repo.workTree ?? repo.gitDir, expanded), viaHooksPath: true };
}

export async function install(opts: InstallOptions): Promise<Manifest> {
  for (const h of opts.hooks) {
    if (CLIENT_OWNED.has(h)) throw new Error(`refusing to install ${h}: Letta Code owns it`);
  }
  const stateDir = stateDirOf(opts.repo.commonDir);
  const hadStateDir = await exists(stateDir);
  // Private whatever the umask (mkdir's mode is masked by it), and tightened if an older version made it wider.
  await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
  await fs.chmod(stateDir, 0o700);
  const { dir: hooksDir, viaHooksPath } = await hooksDirOf(opts.repo, opts.noHooksPathOutside);
  if (viaHooksPath) {
    warn(`core.hooksPath is set: installing into ${hooksDir}; tools that regenerate it (husky on npm install) drop our hooks, so re-run init after them`);
  }
  const previous = await readManifest(stateDir);
  if (previous && previous.role !== opts.role) {
    throw new UserError(`this repo is set up for the ${previous.role} role`, `run ${selfCommand()} uninstall first`);
  }
  const createdHooksDir = previous?.createdHooksDir ?? !(await exists(hooksDir));
  const configFile = path.join(opts.repo.commonDir, 'config');

  const runtime = await useRuntime(opts.runtimeBase ?? runtimeBase(opts.role, undefined), opts.repo.commonDir);
  let record: Awaited<ReturnType<typeof applyConfig>>;
  try {
    record = await applyConfig(configFile, stateDir, opts.config, previous ?? { configChanges: [] });
  } catch (err) {
    // A refused install leaves nothing behind: not even the runtime copy it registered for.
    if (previous?.runtime !== runtime) await releaseRuntime(runtime, opts.repo.commonDir, { pruneBase: true });
    if (!hadStateDir) await fs.rm(stateDir, { recursive: true, force: true });
    throw err;
  }
  const manifest: Manifest = {
    version: 1,
    role: opts.role,
    hooksDir,
    hooks: [...new Set([...(previous?.hooks ?? []), ...opts.hooks])],
    createdHooksDir,
    configFile,
    ...record,
    runtime,
  };
  // The manifest goes first: if writing a hook fails, uninstall still knows what to put back.
  await writeManifest(stateDir, manifest);

  await fs.mkdir(path.join(stateDir, 'chained'), { recursive: true });
  await fs.mkdir(hooksDir, { recursive: true });
  const node = opts.node ?? process.execPath;
  for (const hook of opts.hooks) {
    const file = path.join(hooksDir, hook);
    const current = await fs.readFile(file, 'utf8').catch(() => undefined);
    if (current !== undefined && !isOurShim(current)) {
      const chained = path.join(stateDir, 'chained', hook);
      if (await exists(chained)) {
        // Someone replaced our shim; keep the hook they put there and the one we chained before.
        await fs.rename(chained, `${chained}.${Date.now()}`);
      }
      await fs.rename(file, chained);
    }
    const tmp = `${file}.letta-memfs.tmp`;
    await fs.writeFile(tmp, renderShim({ hook, role: opts.role, node, runtimeDir: runtime, stateDir, self: selfCommand() }), { mode: 0o755 });
    await fs.rename(tmp, file);
  }
  // Re-init by another version: the runtime the hooks ran before may now have no user left.
  if (previous?.runtime && previous.runtime !== runtime) await releaseRuntime(previous.runtime, opts.repo.commonDir);
  return manifest;
}

export interface UninstallReport {
  restoredHooks: string[];
  removedHooks: string[];
  /** Hooks someone replaced after install: left as they are. */
  foreignHooks: string[];
  configRestoredExactly: boolean;
}

/** Puts back every hook file and config key as it was before the first install, then removes our state dir. */
export async function uninstall(repo: RepoPaths): Promise<UninstallReport> {
  const stateDir = stateDirOf(repo.commonDir);
  const manifest = await readManifest(stateDir);
  if (!manifest) {
    throw new UserError(`letta-memfs-hooks is not installed in ${repo.commonDir}`, 'nothing to uninstall');
  }
  const report: UninstallReport = { restoredHooks: [], removedHooks: [], foreignHooks: [], configRestoredExactly: false };
  for (const hook of manifest.hooks) {
    const file = path.join(manifest.hooksDir, hook);
    const chained = path.join(stateDir, 'chained', hook);
    const current = await fs.readFile(file, 'utf8').catch(() => undefined);
    if (current !== undefined && !isOurShim(current)) {
      report.foreignHooks.push(hook);
      continue;
    }
    if (await exists(chained)) {
      await fs.rename(chained, file);
      report.restoredHooks.push(hook);
    } else if (current !== undefined) {
      await fs.rm(file);
      report.removedHooks.push(hook);
    }
  }
  report.configRestoredExactly = await restoreConfig(
    manifest.configFile,
    stateDir,
    manifest.configChanges,
    manifest.configAfterInstall,
  );
  if (manifest.createdHooksDir) await fs.rmdir(manifest.hooksDir).catch(() => undefined);
  if (manifest.runtime) await releaseRuntime(manifest.runtime, repo.commonDir);
  if (report.foreignHooks.length > 0) {
    // Keep what they would need to restore by hand.
    await fs.rm(manifestPath(stateDir), { force: true });
    warn(`left ${report.foreignHooks.join(', ')} alone: replaced since install; earlier originals stay in ${stateDir}/chained`);
  } else {
    await fs.rm(stateDir, { recursive: true, force: true });
  }
  return report;
}
