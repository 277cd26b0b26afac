// What every hook entry runs (run.ts for all hooks, pre-push-run.ts for pre-push alone): finds the repo and its
// settings, reads git's stdin, calls the handler and turns its result or error into git's exit code.
import { existsSync, fstatSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { formatError, UserError } from '../core/errors.js';
import { type RepoPaths, resolveRepo } from '../git/git.js';
import { logLine } from '../core/log.js';
import { selfCommand } from '../core/self-command.js';
import { readSettings, stateDirOf } from '../core/settings.js';
import type { HookHandler } from './context.js';

export type HookHandlers = Record<string, () => Promise<{ default: HookHandler }>>;

// git acts on a failing pre-push (the push stops) and a failing post-checkout (checkout exits 1); for the others a
// failure only confuses, so they always exit 0 and say what went wrong.
const BLOCKING = new Set(['pre-push']);

/**
 * git's stdin for the hook. The shim hands it over as a pipe (or /dev/null), read with one readFileSync: touching
 * process.stdin would set up a stream (net, stream modules) that costs a pre-push several ms. A terminal (the hook
 * run by hand) gives nothing.
 */
async function readStdin(): Promise<string> {
  let st;
  try {
    st = fstatSync(0);
  } catch {
    return ''; // no fd 0 at all
  }
  if (!st.isFIFO() && !st.isFile()) return '';
  try {
    return readFileSync(0, 'utf8');
  } catch (err) {
    // A non-blocking pipe (a parent's, not the shim's) answers EAGAIN: read it as a stream then.
    if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
}

/**
 * The repo git runs this hook for. In a work tree git runs hooks at its root; `git --git-dir=repo.git fetch` from
 * elsewhere runs them in the caller's cwd with GIT_DIR, possibly relative, pointing at the repo (facts file, section 3).
 */
async function hookRepo(): Promise<RepoPaths> {
  const plain = plainCheckout();
  if (plain) return plain;
  const gitDir = process.env.GIT_DIR ? path.resolve(process.env.GIT_DIR) : undefined;
  const fromCwd = await resolveRepo({ cwd: process.cwd() }).catch(() => undefined);
  if (fromCwd && (!gitDir || fromCwd.gitDir === gitDir)) return fromCwd;
  if (!gitDir) throw new UserError(`cannot find the repository from ${process.cwd()}`);
  return resolveRepo({ gitDir });
}

/**
 * The common case without a git process (each costs the hook several ms): git runs a hook at the root of the work
 * tree, and in a main work tree (not a linked one, which gets GIT_DIR) it sets no GIT_DIR. Then a `.git` directory
 * there with no `commondir` file is the repo. Anything else (core.worktree, GIT_WORK_TREE, a `.git` file) asks git.
 */
function plainCheckout(): RepoPaths | undefined {
  if (process.env.GIT_DIR || process.env.GIT_WORK_TREE || process.env.GIT_COMMON_DIR) return undefined;
  const workTree = process.cwd();
  const gitDir = path.join(workTree, '.git');
  if (!statSync(gitDir, { throwIfNoEntry: false })?.isDirectory() || existsSync(path.join(gitDir, 'commondir'))) return undefined;
  let config: string;
  try {
    config = readFileSync(path.join(gitDir, 'config'), 'utf8');
  } catch {
    return undefined;
  }
  if (/^\s*worktree\s*=/im.test(config)) return undefined;
  return { gitDir, commonDir: gitDir, workTree };
}

async function main(handlers: HookHandlers): Promise<number> {
  const [hook, ...args] = process.argv.slice(2);
  const load = Object.hasOwn(handlers, hook) ? handlers[hook] : undefined;
  if (!load) return 0;
  try {
    const repo = await hookRepo();
    const stateDir = stateDirOf(repo.commonDir);
    const settings = await readSettings(stateDir);
    if (!settings) {
      logLine(`${hook}: this repo has no settings (fix: re-run ${selfCommand()} init)`);
      return 0;
    }
    const stdin = await readStdin();
    const handler = (await load()).default;
    return await handler({ hook, args, stdin, repo, stateDir, settings });
  } catch (err) {
    logLine(`${hook}: ${formatError(err)}`);
    if (!BLOCKING.has(hook)) return 0;
    return err instanceof UserError ? err.exitCode : 1;
  }
}

/** Runs the hook named by argv[2] (`node <entry> <hook> <git's args...>`, stdin as git gave it). */
export function runHook(handlers: HookHandlers): void {
  void main(handlers).then((code) => {
    process.exitCode = code;
  });
}
