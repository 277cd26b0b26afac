/**
 * The installed hook runtime: a copy of the bundled package (dist/runtime/*.{mjs,cjs}, hooks/shim.sh, a package.json) in a
 * stable place that every installed hook points at, so hooks keep working when what ran `init` goes away (an npx
 * cache cleaned, a clone moved, a global prefix removed). One copy per build, shared by every repo on the machine:
 *   client  ${XDG_DATA_HOME:-~/.local/share}/letta-memfs-hooks/runtime/<version>-<hash>/
 *   server  <memfs root>/.letta-memfs-hooks/runtime/<version>-<hash>/  (the volume the hooks' repos live on)
 * or under $LETTA_MEMFS_RUNTIME_DIR for either. The key holds a content hash as well as the version, so two
 * different builds of one version (a clone, a patched copy) never overwrite files a running hook may be reading.
 * Each repo that uses a runtime has a file in its `users/`; uninstall removes a runtime nobody uses any more.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import { exists, writeFileAtomic } from '../core/fs.js';
import { PACKAGE_ROOT, packageVersion } from '../core/package.js';
import type { Role } from '../core/settings.js';
import { readManifest } from './manifest.js';
import { BUNDLE, runtimeFileNames, runtimeKey, runtimeProblem } from './runtime-trust.js';

export const RUNTIME_DIR_ENV = 'LETTA_MEMFS_RUNTIME_DIR';
const RECORD = 'runtime.json';

/** Where runtimes of a role live (the parent of the `<version>-<hash>` dirs). */
export function runtimeBase(role: Role, memfsRoot: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (env[RUNTIME_DIR_ENV]) return path.resolve(env[RUNTIME_DIR_ENV]);
  if (role === 'server' && memfsRoot) return path.join(path.resolve(memfsRoot), '.letta-memfs-hooks', 'runtime');
  const data = env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.resolve(data, 'letta-memfs-hooks', 'runtime');
}

/** The hook runner inside an installed runtime. */
export const hookEntryOf = (runtimeDir: string) => path.join(runtimeDir, BUNDLE, 'hook.mjs');

/** The files a runtime is made of, relative to the package root, with their content, in hashing order. */
async function sourceFiles(root: string): Promise<Map<string, Buffer>> {
  const names = await fs.readdir(path.join(root, BUNDLE)).catch(() => undefined);
  if (!names?.includes('hook.mjs') || !names.includes('guard.cjs')) {
    throw new UserError(`the hook runtime is not built (${path.join(root, BUNDLE)} is missing)`, 'run npm run build in the package');
  }
  const { version } = JSON.parse(await fs.readFile(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const out = new Map<string, Buffer>();
  for (const r of runtimeFileNames(names)) {
    // Only what the runtime reads: its version (for --version and the key) and the module type of .mjs siblings.
    out.set(r, r === 'package.json' ? Buffer.from(JSON.stringify({ name: 'letta-memfs-hooks', version, type: 'module', private: true }, null, 2) + '\n') : await fs.readFile(path.join(root, r)));
  }
  return out;
}

/** Whether a runtime dir holds every file its record lists (a half-deleted one is replaced). */
export async function runtimeIntact(dir: string): Promise<boolean> {
  const rec = await fs.readFile(path.join(dir, RECORD), 'utf8').then((t) => JSON.parse(t) as { files: string[] }, () => undefined);
  if (!rec) return false;
  const present = await Promise.all(rec.files.map((f) => exists(path.join(dir, f))));
  return present.every(Boolean);
}

// Per process: `init --server` over 1,000 agents checks the runtime once, not once per agent.
const ensured = new Map<string, Promise<string>>();

/** Forgets which runtimes this process found intact, so the next use checks (and repairs) them again. */
export function forgetRuntimes(): void {
  ensured.clear();
}

/**
 * Installs the running package's runtime under `base` unless an intact copy is there; returns its dir. Copies into a
 * temp dir and renames it into place, so a hook never sees half a runtime. Run from an installed runtime, it is
 * already its own copy.
 */
export function ensureRuntime(base: string): Promise<string> {
  let p = ensured.get(base);
  if (!p) {
    p = doEnsure(base);
    ensured.set(base, p);
    p.catch(() => ensured.delete(base));
  }
  return p;
}

async function doEnsure(given: string): Promise<string> {
  const files = await sourceFiles(PACKAGE_ROOT);
  // Private whatever the umask: every level this creates is 0700 (mkdir's mode is masked by the umask, never widened).
  await fs.mkdir(given, { recursive: true, mode: 0o700 });
  // The hooks name the real path: the guard refuses a runtime reached through a symlink.
  const base = await fs.realpath(given);
  const dir = path.join(base, runtimeKey(packageVersion(), files));
  // Content checked too: an altered or loosened copy (which every hook's guard refuses) is replaced.
  if (path.resolve(PACKAGE_ROOT) === dir || ((await runtimeIntact(dir)) && runtimeProblem(dir, process.getuid!()) === undefined)) return dir;
  const tmp = await fs.mkdtemp(path.join(base, '.tmp-'));
  try {
    for (const [rel, body] of files) {
      await fs.mkdir(path.dirname(path.join(tmp, rel)), { recursive: true, mode: 0o700 });
      await fs.writeFile(path.join(tmp, rel), body, { mode: rel.endsWith('cli.mjs') ? 0o755 : 0o644 });
    }
    await fs.writeFile(path.join(tmp, RECORD), JSON.stringify({ files: [...files.keys()] }, null, 2) + '\n');
    const users = await fs.readdir(path.join(dir, 'users')).catch(() => []);
    if (users.length) {
      // An incomplete copy that repos still use: keep their registrations.
      await fs.cp(path.join(dir, 'users'), path.join(tmp, 'users'), { recursive: true });
    }
    await fs.rm(dir, { recursive: true, force: true });
    await fs.rename(tmp, dir).catch(async (err: NodeJS.ErrnoException) => {
      // Another init put an intact copy there first.
      if (!(await runtimeIntact(dir))) throw err;
    });
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
  return dir;
}

/**
 * A repo's registration: its common dir relative to the runtime, named by a hash of that, so a memfs root (repos
 * and runtime on one volume) mounted elsewhere still finds and checks its own registrations, never the original's.
 */
const registration = (runtimeDir: string, commonDir: string) => path.relative(runtimeDir, path.resolve(commonDir));
const userFile = (runtimeDir: string, commonDir: string) =>
  path.join(runtimeDir, 'users', createHash('sha256').update(registration(runtimeDir, commonDir)).digest('hex').slice(0, 16));
/** The name older versions gave a registration (the absolute common dir's hash), removed along with ours. */
const absoluteUserFile = (runtimeDir: string, commonDir: string) =>
  path.join(runtimeDir, 'users', createHash('sha256').update(path.resolve(commonDir)).digest('hex').slice(0, 16));

/**
 * The runtime under `base` for the repo at `commonDir`: installed if need be, and the repo recorded as one of its
 * users (a file per repo: no lock, even for 1,000 agents). Returns the runtime dir.
 */
export async function useRuntime(base: string, commonDir: string): Promise<string> {
  const dir = await ensureRuntime(base);
  const file = userFile(dir, commonDir);
  if (!(await exists(file))) await writeFileAtomic(file, registration(dir, commonDir) + '\n');
  // An uninstall elsewhere may have removed the runtime between the two steps: install it again, users kept.
  if (!(await exists(path.join(dir, RECORD))) || !(await exists(hookEntryOf(dir)))) {
    ensured.delete(base);
    await ensureRuntime(base);
  }
  return dir;
}

// An `init` registers its repo before it writes the manifest naming the runtime: a registration this young counts
// as a user whatever the manifest says, so an uninstall elsewhere never deletes a runtime an init is installing.
const REGISTRATION_GRACE_MS = 10 * 60_000;

/** Whether a registered repo still has hooks of ours pointing at this runtime (a deleted repo does not). */
async function stillUses(entry: string, runtimeDir: string): Promise<boolean> {
  const stat = await fs.stat(entry).catch(() => undefined);
  if (!stat) return false;
  if (Date.now() - stat.mtimeMs < REGISTRATION_GRACE_MS) return true;
  const recorded = (await fs.readFile(entry, 'utf8').catch(() => '')).trim();
  if (!recorded) return false;
  // Relative to the runtime (absolute from older versions: resolve keeps those).
  const commonDir = path.resolve(runtimeDir, recorded);
  const manifest = await readManifest(path.join(commonDir, 'letta-memfs')).catch(() => undefined);
  return manifest?.runtime !== undefined && path.resolve(manifest.runtime) === path.resolve(runtimeDir);
}

/**
 * The repo stops using the runtime; a runtime that no repo uses any more is deleted. The delete first moves the dir
 * aside and looks again, so an `init` registering at that moment keeps (or re-creates) its runtime.
 * Returns whether the runtime was removed.
 */
export async function releaseRuntime(runtimeDir: string, commonDir: string, opts: { pruneBase?: boolean } = {}): Promise<boolean> {
  const removed = await release(runtimeDir, commonDir);
  if (removed && opts.pruneBase) {
    // The folders the first install made (runtime/, and its parent when it holds nothing else).
    const base = path.dirname(runtimeDir);
    for (const dir of [base, path.dirname(base)]) await fs.rmdir(dir).catch(() => undefined);
  }
  return removed;
}

async function release(runtimeDir: string, commonDir: string): Promise<boolean> {
  await fs.rm(userFile(runtimeDir, commonDir), { force: true });
  await fs.rm(absoluteUserFile(runtimeDir, commonDir), { force: true });
  const usersDir = path.join(runtimeDir, 'users');
  // Read lazily, stopping at the first user left: `uninstall --server --all` releases once per agent, and reading all
  // 10,000 names each time grew with the square of the agents.
  const dir = await fs.opendir(usersDir).catch(() => undefined);
  if (dir) {
    for await (const e of dir) {
      // Leaving the loop early closes the dir.
      if (await stillUses(path.join(usersDir, e.name), runtimeDir)) return false;
      await fs.rm(path.join(usersDir, e.name), { force: true });
    }
  }
  if (!(await exists(runtimeDir))) return false;
  const trash = `${runtimeDir}.removing-${process.pid}`;
  await fs.rename(runtimeDir, trash);
  const late = await fs.readdir(path.join(trash, 'users')).catch(() => [] as string[]);
  if (late.length > 0 && !(await exists(runtimeDir))) {
    await fs.rename(trash, runtimeDir);
    return false;
  }
  await fs.rm(trash, { recursive: true, force: true });
  return true;
}
