/**
 * The README's first command, verbatim, in a fresh copy of this repository with a fresh HOME where Letta Code left
 * a server agent's checkout and a local-backend one: it must exit 0 and leave every checkout backed up with its
 * history and hooks that push what comes after. (The second first-screen command, `npm ci && npm test`, is what
 * .ci/run runs itself.) Slow (npm ci, npm pack, npm install in the copy): part of `npm run test:slow`.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { tempDir } from '../helpers/repo.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const AGENT = 'agent-123e4567-e89b-42d3-a456-426614174000';
const LOCAL_AGENT = 'agent-local-9b2f6c1e-4d3a-4e5b-8c7d-1a2b3c4d5e6f';

const t = tempDir('lmh-first-screen-');
afterAll(() => t.cleanup());

/** The README's first fenced sh block: the first command. */
function firstCommand(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const m = /```sh\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('README.md has no ```sh block');
  return m[1].trim();
}

it('the first command backs up every Letta Code checkout on a fresh machine, with working hooks', async () => {
  const cmd = firstCommand();
  expect(cmd).toMatch(/init --all --local$/);
  // A fresh clone: the files git knows (committed or not), no node_modules, no dist.
  const clone = path.join(t.dir, 'clone');
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const f of files) {
    // Deleted in the work tree, or a worktree's node_modules symlink: not part of a clone.
    if (!fs.lstatSync(path.join(ROOT, f), { throwIfNoEntry: false })?.isFile()) continue;
    fs.mkdirSync(path.dirname(path.join(clone, f)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, f), path.join(clone, f));
  }
  const home = path.join(t.dir, 'home');
  fs.mkdirSync(home);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    // The one thing kept from this machine: npm's download cache, so npm ci fetches nothing it already has.
    npm_config_cache: process.env.npm_config_cache ?? path.join(os.homedir(), '.npm'),
    npm_config_update_notifier: 'false',
    GIT_AUTHOR_NAME: 't',
    GIT_AUTHOR_EMAIL: 't@t',
    GIT_COMMITTER_NAME: 't',
    GIT_COMMITTER_EMAIL: 't@t',
  };
  const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env, encoding: 'utf8' }).trim();
  const checkout = (dir: string, agent: string, origin?: string) => {
    fs.mkdirSync(path.join(dir, 'system'), { recursive: true });
    git(dir, 'init', '-q', '-b', 'main');
    if (origin) git(dir, 'remote', 'add', 'origin', origin);
    for (const n of [1, 2]) {
      fs.writeFileSync(path.join(dir, 'system', 'human.md'), `---\ndescription: Human\n---\nversion ${n}\n`);
      git(dir, 'add', '-A');
      git(dir, 'commit', '-q', '-m', `edit ${n}`);
    }
    return git(dir, 'rev-parse', 'main');
  };
  const server = path.join(home, '.letta', 'agents', AGENT, 'memory');
  const local = path.join(home, '.letta', 'lc-local-backend', 'memfs', LOCAL_AGENT, 'memory');
  const heads = { [AGENT]: checkout(server, AGENT, `https://api.letta.com/v1/git/${AGENT}/state.git`), [LOCAL_AGENT]: checkout(local, LOCAL_AGENT) };

  const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn('sh', ['-c', cmd], { cwd: clone, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
  expect(r.code, r.out.slice(-3000)).toBe(0);
  expect(r.out).toMatch(/2 checkout\(s\), 2 set up, 0 already set up, 0 failed/);
  for (const [agent, head] of Object.entries(heads)) {
    const bare = path.join(home, '.letta', 'memfs-remote', `${agent}.git`);
    expect(git(bare, 'rev-parse', 'main')).toBe(head);
    expect(git(bare, 'rev-list', '--count', 'main')).toBe('2');
  }
  // The hooks run from the runtime init copied under the fresh HOME, not from the clone: delete the clone first.
  fs.rmSync(clone, { recursive: true, force: true });
  fs.writeFileSync(path.join(server, 'system', 'human.md'), '---\ndescription: Human\n---\nversion 3\n');
  git(server, 'commit', '-q', '-am', 'edit 3');
  git(server, 'push', '-q', 'origin', 'main');
  expect(git(path.join(home, '.letta', 'memfs-remote', `${AGENT}.git`), 'rev-parse', 'main')).toBe(git(server, 'rev-parse', 'main'));
  expect(fs.existsSync(path.join(home, '.local', 'share', 'letta-memfs-hooks', 'runtime'))).toBe(true);
}, 600_000);
