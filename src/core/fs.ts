import fs from 'node:fs/promises';
import path from 'node:path';

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
  await fs.writeFile(tmp, content, { mode, flag: 'wx' });
  await fs.rename(tmp, file);
}
