/**
 * receive-pack's quarantine directories, `objects/tmp_objdir-incoming-*` (git >= 2.11, tmp-objdir.c): git removes
 * one when receive-pack exits or gets a catchable signal; a SIGKILL (an OOM kill, a killed process group, our own
 * escalation after SIGTERM) leaves it, holding up to a whole refused push, inside the repo.git Letta copies.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

/** A quarantine's name inside objects/ (tmp-objdir.c: `tmp_objdir-incoming-` and mkdtemp's XXXXXX). */
export const QUARANTINE = /^tmp_objdir-incoming-[A-Za-z0-9]+$/;

/** Each quarantine dir and when it last changed (its own or its pack dir's mtime, whichever is later). */
export async function quarantines(gitDir: string): Promise<{ dir: string; changedMs: number }[]> {
  const objects = path.join(gitDir, 'objects');
  const names = (await fs.readdir(objects).catch(() => [] as string[])).filter((n) => QUARANTINE.test(n));
  const out = await Promise.all(
    names.map(async (n) => {
      const dir = path.join(objects, n);
      const st = await fs.lstat(dir).catch(() => undefined);
      if (!st?.isDirectory()) return undefined;
      const pack = await fs.stat(path.join(dir, 'pack')).catch(() => undefined);
      return { dir, changedMs: Math.max(st.mtimeMs, pack?.mtimeMs ?? 0) };
    }),
  );
  return out.filter((q) => q !== undefined);
}

/** Removes the quarantine dirs unchanged since `beforeMs`; returns how many. */
export async function removeQuarantines(gitDir: string, beforeMs: number): Promise<number> {
  let n = 0;
  for (const q of await quarantines(gitDir)) {
    if (q.changedMs >= beforeMs) continue;
    await fs.rm(q.dir, { recursive: true, force: true });
    n++;
  }
  return n;
}
