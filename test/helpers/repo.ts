import { formatError } from '../../src/core/errors.js';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A temp dir removed by the returned cleanup. */
export function tempDir(prefix = 'lmh-'): { dir: string; cleanup: () => void } {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Runs git synchronously with a fixed identity, returning trimmed stdout. */
export function sh(cwd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): string {
  return execFileSync('git', args, {
    cwd,
    input: opts.input,
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t', ...opts.env },
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  }).trim();
}

/** A work-tree repo on branch main with one commit. */
export function initRepo(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  sh(dir, ['init', '-q', '-b', 'main']);
  fs.writeFileSync(path.join(dir, 'README.md'), 'x\n');
  sh(dir, ['add', '.']);
  sh(dir, ['commit', '-q', '-m', 'init']);
  return dir;
}

/** Every file under dir (relative path -> bytes and mode), for byte-exact before/after comparisons. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      // A FIFO or socket (a hostile case may plant one) is recorded, never read: reading a FIFO would block.
      else if (e.isSymbolicLink()) out[path.relative(dir, p)] = `link:${fs.readlinkSync(p)}`;
      else if (!e.isFile()) out[path.relative(dir, p)] = `special:${(fs.lstatSync(p).mode & 0o7777).toString(8)}`;
      else out[path.relative(dir, p)] = `${(fs.statSync(p).mode & 0o777).toString(8)}:${fs.readFileSync(p).toString('base64')}`;
    }
  };
  walk(dir);
  return out;
}

/** The one line a UserError prints (message and fix), from a call expected to throw. */
export function errorLine(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return formatError(err);
  }
  throw new Error('expected an error');
}
