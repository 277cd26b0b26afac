import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * A per-agent lock file (`O_EXCL` create) shared by hooks, `pull`, `sync` and `watch`, which may run at once for the
 * same agent. A lock whose process is gone, or older than `staleMs`, is taken over.
 */
export interface Lock {
  release(): Promise<void>;
}

const STALE_MS = 10 * 60_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function tryLock(file: string, staleMs = STALE_MS): Promise<Lock | undefined> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await fs.open(file, 'wx');
      await fh.writeFile(`${process.pid} ${Date.now()}\n`);
      await fh.close();
      let released = false;
      return {
        release: async () => {
          if (released) return;
          released = true;
          await fs.rm(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const text = await fs.readFile(file, 'utf8').catch(() => '');
      const [pid, at] = text.trim().split(' ').map(Number);
      const stale = text !== '' && (!Number.isInteger(pid) || !alive(pid) || Date.now() - at > staleMs);
      if (!stale) return undefined;
      await fs.rm(file, { force: true });
    }
  }
  return undefined;
}

/** Waits for the lock (polling), up to `timeoutMs`; undefined when it stays taken. */
export async function waitLock(file: string, timeoutMs: number): Promise<Lock | undefined> {
  const end = Date.now() + timeoutMs;
  let delay = 5;
  for (;;) {
    const l = await tryLock(file);
    if (l || Date.now() >= end) return l;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 100);
  }
}
