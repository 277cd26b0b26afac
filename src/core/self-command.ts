import fs from 'node:fs';
import path from 'node:path';
import { shellWord } from './shell.js';

const NAME = 'letta-memfs-hooks';

const realpath = (p: string) => {
  try {
    return fs.realpathSync(p);
  } catch {
    return undefined;
  }
};

/** The first `letta-memfs-hooks` on PATH, resolved through its symlinks. */
function onPath(env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const hit = realpath(path.join(dir, NAME));
    if (hit) return hit;
  }
  return undefined;
}

/**
 * What npx ran: `~/.npm/_npx/<hash>/package.json` names the spec it installed (a registry range, or `file:` a tarball
 * path relative to that directory). A registry spec is reached again by `npx letta-memfs-hooks`; a tarball only by
 * naming it (an absolute path alone would be taken for a command, so through --package).
 */
function npxCommand(npxDir: string): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(npxDir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    const spec = pkg.dependencies?.[NAME] ?? '';
    if (spec.startsWith('file:')) return `npx --yes --package=${shellWord(path.resolve(npxDir, spec.slice(5)))} ${NAME}`;
  } catch {
    // No readable record: the registry form is the best guess.
  }
  return `npx ${NAME}`;
}

/**
 * Pure but for reading PATH and files: the command line that reaches the running install, for messages that tell the
 * user what to run ("re-run ... init"). `npx letta-memfs-hooks` is only right after a registry release, and a bin
 * in a prefix that is not on PATH is only reached by its path. Hooks get the command `init` computed, through the
 * shim's LMH_SELF: by then the process runs the installed runtime, not what the user typed.
 */
export function computeSelfCommand(argv1: string | undefined, env: NodeJS.ProcessEnv, execPath: string): string {
  if (env.LMH_SELF) return env.LMH_SELF;
  if (!argv1) return NAME;
  const abs = path.resolve(argv1);
  const npx = /^(.*[\\/]_npx[\\/][^\\/]+)[\\/]node_modules[\\/]/.exec(abs);
  if (npx) return npxCommand(npx[1]);
  if (path.basename(abs) === NAME) {
    // A bin link: by its name when PATH finds this very install, else by its path.
    return onPath(env) === realpath(abs) ? NAME : shellWord(abs);
  }
  return `${shellWord(execPath)} ${shellWord(abs)}`;
}

let cached: string | undefined;
/** The command that reaches this install, e.g. `letta-memfs-hooks`, `~/.local/bin/...`, `npx letta-memfs-hooks`. */
export function selfCommand(): string {
  cached ??= computeSelfCommand(process.argv[1], process.env, process.execPath);
  return cached;
}
