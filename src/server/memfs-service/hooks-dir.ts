/**
 * The hooks directory of the service's receive-pack. It is handed to git as `core.hooksPath` through the environment
 * of the receive-pack we spawn (backend.ts), never written into repo.git/config: Letta copies that config into its
 * temp clones (facts §1), and a file in repo.git/hooks would lose its exec bit in Letta's copies anyway. So git runs
 * only hooks from this directory for our pushes (repo.git/hooks is not consulted), and only for those.
 */
import { lstat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { mkdirPrivate, writeFileAtomic } from '../../core/fs.js';
import { stateDirOf } from '../../core/settings.js';

// Constant text: the channel's path comes through the environment, nothing is quoted into shell. It relays the push
// to serve's own process and back (hook-channel.ts has the protocol); every other outcome exits 1: the push is refused.
// `<` on `out` first: it cannot wait while serve holds the FIFO's other end, and EOF there means serve is gone.
const PRE_RECEIVE = `#!/bin/sh
# letta-memfs-hooks serve: its own process checks the push (core.hooksPath given to this receive-pack only).
c=$LMH_HOOK_CHANNEL
if [ -z "$c" ] || [ ! -p "$c/in" ] || [ ! -p "$c/out" ]; then
  echo 'letta-memfs-hooks: push refused: the server cannot check it now; try again' >&2
  exit 1
fi
exec 3<"$c/out" || exit 1
{ printf '%s\\n' "$GIT_QUARANTINE_PATH"; cat; printf '\\n.\\n'; } >"$c/in" || exit 1
IFS= read -r v <&3 || exit 1
while IFS= read -r l <&3; do
  if [ "$l" = . ]; then
    [ "$v" = 0 ] && exit 0
    exit 1
  fi
  printf '%s\\n' "$l" >&2
done
exit 1
`;

export interface ServiceHooks {
  dir: string;
  /** Where serve makes each push's channel (hook-channel.ts), inside the private directory. */
  channelsDir: string;
}

/**
 * A private (0700) directory with our pre-receive, at a stable place in the memfs root's state dir
 * (`<memfs-root>/letta-memfs/serve-hooks`, next to Letta's `repository/`), rewritten at every start: a service
 * that dies uncleanly leaves nothing behind in /tmp, and two services on one root write the same constant file.
 */
export async function createServiceHooks(memfsRoot: string): Promise<ServiceHooks> {
  const dir = path.join(stateDirOf(memfsRoot), 'serve-hooks');
  // Both levels private (mkdir's mode applies to the last level only).
  for (const d of [path.dirname(dir), dir]) await mkdirPrivate(d);
  await writeFileAtomic(path.join(dir, 'pre-receive'), PRE_RECEIVE, 0o700);
  return { dir, channelsDir: path.join(dir, 'channels') };
}

/**
 * Why the hooks directory cannot be trusted to check a push now, or undefined. git skips a hook that is missing
 * (or not executable) without a word, so serve looks before every receive-pack: the directory and the script ours,
 * private, not symlinks, and the script the text we wrote. Two lstat calls and one small read per push.
 */
export async function checkServiceHooks(hooks: ServiceHooks, uid = process.getuid?.()): Promise<string | undefined> {
  const file = path.join(hooks.dir, 'pre-receive');
  const [dirSt, fileSt] = await Promise.all([lstat(hooks.dir).catch(() => undefined), lstat(file).catch(() => undefined)]);
  if (!dirSt?.isDirectory()) return `pre-receive directory ${hooks.dir} is missing or not a directory`;
  if (!fileSt) return `pre-receive ${file} is missing`;
  if (!fileSt.isFile()) return `pre-receive ${file} is altered (not a regular file)`;
  for (const [what, st] of [['directory', dirSt], ['pre-receive', fileSt]] as const) {
    if (uid !== undefined && st.uid !== uid) return `pre-receive ${what} is owned by uid ${st.uid}, not this user`;
    if ((st.mode & 0o077) !== 0) return `pre-receive ${what} is writable or readable by others (mode ${(st.mode & 0o777).toString(8)})`;
  }
  if ((fileSt.mode & 0o100) === 0) return `pre-receive ${file} is altered (not executable)`;
  if ((await readFile(file, 'utf8').catch(() => '')) !== PRE_RECEIVE) return `pre-receive ${file} is altered`;
  return undefined;
}
