/**
 * Whether an installed hook runtime (runtime.ts) may be run: synchronous and self-contained, because the guard that
 * every hook runs before loading the runtime (src/cli/hooks/guard.ts, embedded in each shim) is built from it.
 *
 * Trusted means: its content hashes to the key in its name (`<version>-<hash>`), every file and dir of it is owned
 * by this user and not writable by group or others, and no component of its path is a symlink (each ancestor owned
 * by this user or root, and not writable by others unless sticky, like /tmp). An altered, foreign or swappable
 * runtime is refused, never run.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const BUNDLE = path.join('dist', 'runtime');

/** The files a runtime is made of (relative to its root), in hashing order: bundle files sorted, then package.json. */
export function runtimeFileNames(bundleNames: readonly string[]): string[] {
  const rel = [...bundleNames.filter((n) => /\.[mc]js$/.test(n)).map((n) => path.join(BUNDLE, n)), path.join('hooks', 'shim.sh')].sort();
  return [...rel, 'package.json'];
}

/** The content key of a runtime: `<version>-<first 12 hex of sha256 over name, length and body of each file>`. */
export function runtimeKey(version: string, files: ReadonlyMap<string, Buffer>): string {
  const h = createHash('sha256');
  for (const [name, body] of files) h.update(`${name}\0${body.length}\0`).update(body);
  return `${version}-${h.digest('hex').slice(0, 12)}`;
}

function checkOwned(p: string, st: fs.Stats, uid: number): string | undefined {
  if (st.uid !== uid) return `${p} is owned by uid ${st.uid}, not this user`;
  if ((st.mode & 0o022) !== 0) return `${p} is writable by group or others (mode ${(st.mode & 0o777).toString(8)})`;
  return undefined;
}

/** Why the runtime at `dir` (absolute) must not run, or undefined when it may. */
export function runtimeProblem(dir: string, uid: number): string | undefined {
  // Every ancestor: a real directory nobody else can swap entries in.
  let p = path.parse(dir).root;
  for (const part of dir.split(path.sep).filter(Boolean)) {
    p = path.join(p, part);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      return `${p} is missing`;
    }
    if (st.isSymbolicLink()) return `${p} is a symlink`;
    if (!st.isDirectory()) return `${p} is not a directory`;
    if (p === dir) break;
    if (st.uid !== uid && st.uid !== 0) return `${p} is owned by uid ${st.uid}`;
    if ((st.mode & 0o002) !== 0 && (st.mode & 0o1000) === 0) return `${p} is writable by others`;
    if ((st.mode & 0o020) !== 0 && st.uid !== uid) return `${p} is writable by its group`;
  }
  const m = /^(.+)-([0-9a-f]{12})$/.exec(path.basename(dir));
  if (!m) return `${dir} is not named <version>-<hash>`;
  let names: string[];
  try {
    names = fs.readdirSync(path.join(dir, BUNDLE));
  } catch {
    return `${path.join(dir, BUNDLE)} is missing`;
  }
  const files = new Map<string, Buffer>();
  for (const d of [dir, path.join(dir, 'dist'), path.join(dir, BUNDLE), path.join(dir, 'hooks')]) {
    const st = fs.lstatSync(d, { throwIfNoEntry: false });
    if (!st?.isDirectory()) return `${d} is missing or not a directory`;
    const bad = checkOwned(d, st, uid);
    if (bad) return bad;
  }
  for (const rel of runtimeFileNames(names)) {
    const f = path.join(dir, rel);
    const st = fs.lstatSync(f, { throwIfNoEntry: false });
    if (!st?.isFile()) return `${f} is missing or not a regular file`;
    const bad = checkOwned(f, st, uid);
    if (bad) return bad;
    files.set(rel, fs.readFileSync(f));
  }
  const key = runtimeKey(m[1], files);
  if (key !== path.basename(dir)) return `its content does not match its name (hashes to ${key})`;
  return undefined;
}
