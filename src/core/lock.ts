import fs from 'node:fs/promises';
import path from 'node:path';
import { logLine } from './log.js';

/**
 * A per-agent lock shared by hooks, `pull`, `sync` and `watch`, which may run at once for the same agent.
 *
 * proper-lockfile: the lock is a directory made with `mkdir` (atomic), whose mtime the holder refreshes every
 * `stale / 4`; a lock not refreshed for `stale` ms is dead and taken over. No PID is involved, so nothing is fooled
 * by PID reuse (a live unrelated process, a PID from another container sharing the volume), and a holder killed
 * with -9 blocks others for one stale period at most. Holders on the same machine and clock: the memfs root is
 * local storage. A holder whose lock was taken over (its event loop stalled past `stale`) is warned; the work it
 * guards moves main by compare-and-swap only, so an overlap costs a retry, not data.
 */
export interface Lock {
  release(): Promise<void>;
}

const DEFAULT_STALE_MS = 20_000;

/** The stale period: `LETTA_MEMFS_LOCK_STALE_SECONDS` (at least 2, proper-lockfile's floor), default 20 s. */
export function lockStaleMs(env: NodeJS.ProcessEnv = process.env): number {
  const s = Number(env.LETTA_MEMFS_LOCK_STALE_SECONDS);
  return Number.isFinite(s) && s >= 2 ? s * 1000 : DEFAULT_STALE_MS;
}

export async function tryLock(file: string, staleMs = lockStaleMs()): Promise<Lock | undefined> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  // Loaded here: only the server's lock takers pay for it, not every hook.
  const { default: lockfile } = await import('proper-lockfile');
  for (let attempt = 0; ; attempt++) {
    try {
      const release = await lockfile.lock(file, {
        lockfilePath: file,
        realpath: false,
        stale: staleMs,
        update: staleMs / 4,
        onCompromised: (err) => logLine(`warning: lock ${file} was taken over (${err.message}); work under it goes on, refs move by compare-and-swap`),
      });
      let released = false;
      return {
        release: async () => {
          if (released) return;
          released = true;
          // Already released when it was taken over (ERELEASED): nothing left to do.
          await release().catch(() => undefined);
        },
      };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOCKED') return undefined;
      // A plain file where the lock dir belongs (we make directories: a PID file some other tool or a restore left,
      // or an empty file) would wedge the lock for ever: proper-lockfile judges it stale by its mtime but removes it
      // with rmdir. Remove it as a file, once (a directory is not touched).
      if (code === 'ENOTDIR' && attempt === 0) {
        await fs.unlink(file).catch(() => undefined);
        continue;
      }
      throw err;
    }
  }
}

/** Waits for the lock (polling), up to `timeoutMs`; undefined when it stays taken. */
export async function waitLock(file: string, timeoutMs: number, staleMs = lockStaleMs()): Promise<Lock | undefined> {
  const end = Date.now() + timeoutMs;
  let delay = 5;
  for (;;) {
    const l = await tryLock(file, staleMs);
    if (l || Date.now() >= end) return l;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 100);
  }
}
