/**
 * The package as users get it: `npm pack`, installed into an empty prefix, run with no source tree and no
 * node_modules around; then the prefix is deleted and the hooks `init` installed keep working, because they run the
 * hook runtime init copied to a stable place (src/install/runtime.ts). CI runs this as part of `npm test`.
 */
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSyncState } from '../../src/server/letta/sync-state.js';
import { g } from '../fixtures/server-repo.js';
import { tempDir } from '../helpers/repo.js';
import { clientPush, type Harness, makeHarness } from '../server/harness.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const AGENT = 'agent-123e4567-e89b-42d3-a456-426614174000';
const IDENTITY = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };

let tmp: { dir: string; cleanup: () => void };
let prefix: string;
let bin: string;
let h: Harness;
/** PATH without the prefix (as after `npm install -g --prefix ~/.local` with ~/.local/bin not on PATH). */
let env: NodeJS.ProcessEnv;

// npm runs asynchronously: a synchronous npm on a loaded machine can block the test worker long enough for vitest's
// own worker RPC to time out.
const npm = promisify(execFile);

beforeAll(async () => {
  tmp = tempDir('lmh-tarball-');
  // test/runtime-setup.ts has just checked dist/runtime fresh against src/; pack exactly that (prepack would build it again).
  const { stdout: packed } = await npm('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp.dir], { cwd: ROOT, encoding: 'utf8' });
  const [{ filename, files }] = JSON.parse(packed) as { filename: string; files: { path: string }[] }[];
  // Only what runs: the bundle, the shim template, the server patches, the config schema, the README and package.json.
  for (const f of files) expect(f.path).toMatch(/^(dist\/runtime\/[\w-]+\.mjs|dist\/runtime\/(pre-push|guard)\.cjs|hooks\/shim\.sh|patches\/[\w.-]+|schema\/config\.schema\.json|README\.md|package\.json)$/);
  prefix = path.join(tmp.dir, 'prefix');
  await npm('npm', ['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', path.join(tmp.dir, filename)], { cwd: tmp.dir });
  bin = path.join(prefix, 'bin', 'letta-memfs-hooks');
  env = { ...process.env, LETTA_MEMFS_INTERNAL: undefined, XDG_CONFIG_HOME: path.join(tmp.dir, 'xdg'), ...IDENTITY };
  for (const k of Object.keys(env)) if (k.startsWith('GIT_') && !(k in IDENTITY)) delete env[k];
}, 120_000);
afterAll(async () => {
  await h?.cleanup();
  tmp?.cleanup();
});

// Asynchronous: the server part's Letta double answers from this process's event loop.
function run(cmd: string, args: string[], cwd: string, extra: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env, encoding: 'utf8', stdio: 'pipe' }).trim();

describe('the packed tarball, installed into an empty prefix', () => {
  it('runs --version, -v and --help with no source tree and no dependencies installed', async () => {
    expect(fs.existsSync(path.join(prefix, 'lib', 'node_modules', 'letta-memfs-hooks', 'node_modules'))).toBe(false);
    for (const flag of ['--version', '-v']) expect(await run(bin, [flag], tmp.dir)).toEqual({ code: 0, out: `${VERSION}\n`, err: '' });
    const help = await run(bin, ['--help'], tmp.dir);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^usage: letta-memfs-hooks <command>/);
  });

  it('client and server hooks keep working after the prefix that ran init is deleted', async () => {
    // Client: a checkout as Letta Code leaves it (origin is the Letta URL), redirected to a local bare repo.
    const bare = path.join(tmp.dir, 'external.git');
    git(tmp.dir, 'init', '-q', '--bare', '-b', 'main', bare);
    const checkout = path.join(tmp.dir, 'home', '.letta', 'agents', AGENT, 'memory');
    fs.mkdirSync(path.join(checkout, 'system'), { recursive: true });
    git(checkout, 'init', '-q', '-b', 'main');
    fs.writeFileSync(path.join(checkout, 'system', 'persona.md'), '---\ndescription: who\n---\nme\n');
    git(checkout, 'add', '-A');
    git(checkout, 'commit', '-q', '-m', 'one');
    git(checkout, 'remote', 'add', 'origin', `http://127.0.0.1:9/v1/git/${AGENT}/state.git`);
    const client = await run(bin, ['init', '--yes', '--no-verify', '--letta-url', 'http://127.0.0.1:9', '--remote', bare], checkout);
    expect(client.err).toBe('');
    expect(client.code).toBe(0);
    // The hooks name the command that reaches this install: not on PATH, so by its path.
    expect(fs.readFileSync(path.join(checkout, '.git', 'hooks', 'pre-push'), 'utf8')).toContain(`LMH_SELF='${bin}'`);

    // Server: a memfs root with one Letta-made agent repo and the Letta API double.
    h = await makeHarness();
    const a = await h.addAgent();
    const server = await run(bin, ['init', '--server', '--memfs-root', h.memfsRoot, '--remote', `${h.extRoot}/{agentId}.git`, '--letta-url', h.letta.url, '--mode', 'patched'], tmp.dir);
    expect(server.err).toBe('');
    expect(server.code).toBe(0);

    fs.rmSync(prefix, { recursive: true });

    // The client's pre-push still validates: broken frontmatter is refused, naming the file.
    fs.writeFileSync(path.join(checkout, 'system', 'broken.md'), '---\ndescription: [unclosed\n---\nx\n');
    git(checkout, 'add', '-A');
    git(checkout, 'commit', '-q', '-m', 'broken');
    const push = spawnSync('git', ['push', '-q', 'origin', 'main'], { cwd: checkout, env, encoding: 'utf8' });
    expect(push.status).not.toBe(0);
    expect(push.stderr).toMatch(/system\/broken\.md/);
    expect(git(tmp.dir, '--git-dir', bare, 'for-each-ref')).toBe('');

    // The server's reference-transaction still syncs a fetch into repo.git.
    const pushed = await clientPush(h.extPath(a.agentId), path.join(tmp.dir, 'c1'), 'system/human.md', '---\ndescription: h\n---\nvia hook\n');
    await g(tmp.dir, [`--git-dir=${a.gitDir}`, 'fetch', '-q', '--update-head-ok', h.extPath(a.agentId), '+main:main']);
    const end = Date.now() + 15_000;
    while ((await readSyncState(a.gitDir)).lastSynced !== pushed && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect(h.letta.calls).toMatchObject([{ agentId: a.agentId, head: pushed, recompile: true }]);
  }, 120_000);
});
