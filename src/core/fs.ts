import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Reads a small file (a ref, a state file) in one synchronous call: `fs.promises.readFile` costs four thread-pool
 * round trips (open, fstat, read, close), which at 10,000 agents made an idle `watch` tick and `status` take
 * seconds to minutes; this blocks the event loop for tens of microseconds instead. undefined when it does not exist.
 */
export function readSmallFile(file: string): string | undefined {
  try {
    return fsSync.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

export async function exists(p: string): Promise<boolean> {
  return fs.lstat(p).then(
    () => true,
    () => false,
  );
}

/**
 * Writes through a temp file and a rename, so a reader (a hook, the Letta server's copy of repo.git) never sees half a
 * file. The temp file is created with `mode`, so a secret is never briefly readable by others.
 */
export async function writeFileAtomic(file: string, content: string, mode = 0o644): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    await fs.writeFile(tmp, content, { mode, flag: 'wx' });
    await fs.rename(tmp, file);
  } catch (err) {
    // A full disk or a rename refused (the target a directory): no temp file is left behind, a secret included.
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/** A directory only this user can enter, whatever the umask (mkdir's mode is masked by it, and a chmod is not). */
export async function mkdirPrivate(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.chmod(dir, 0o700);
}
