// serve checks a push in its own process while git waits in the pre-receive, a constant sh script relaying over two
// FIFOs of a private per-push directory (src/server/memfs-service/hook-channel.ts). Through the real serve and git;
// then the real hook script against a channel of this process, for what a client cannot make git do (a forged
// quarantine path, a channel gone, serve gone while the hook waits).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceHooks } from '../../src/server/memfs-service/hooks-dir.js';
import { HookChannels, type HookChannel } from '../../src/server/memfs-service/hook-channel.js';
import { decidePush } from '../../src/server/memfs-service/pre-receive.js';
import { sh, tempDir } from '../helpers/repo.js';
import { cloneNewAgent, createAgentRepo, gitClient, memfsFile, newAgentId, startService, waitForLog, type Service } from './fixture.js';

let svc: Service;
let work: { dir: string; cleanup: () => void };
const channelsDir = () => path.join(svc.root, 'letta-memfs', 'serve-hooks', 'channels');
// No pid is this large (Linux caps them at 2^22): the serve that made it is gone.
const DEAD = 'ch-2147483647-AbC123';
const LIVE = `ch-${process.pid}-AbC123`;

beforeAll(async () => {
  work = tempDir('lmh-memfs-ch-');
  // Left by a serve killed with -9 before this start (its pid gone), and one of a process still running.
  const root = path.join(work.dir, 'memfs');
  for (const name of [DEAD, LIVE]) {
    const d = path.join(root, 'letta-memfs', 'serve-hooks', 'channels', name);
    fs.mkdirSync(d, { recursive: true });
    execFileSync('mkfifo', [path.join(d, 'in'), path.join(d, 'out')]);
  }
  svc = await startService({ root, args: ['--metrics-port', '0'] });
});
afterAll(async () => {
  await svc?.stop();
  work?.cleanup();
});

const setup = () => cloneNewAgent(svc, work.dir);

function commit(dir: string, file: string, content: string | Buffer): void {
  fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
  fs.writeFileSync(path.join(dir, file), content);
  sh(dir, ['add', '-A']);
  sh(dir, ['commit', '-q', '-m', `edit ${file}`]);
}

/** The channel dirs once serve removed them: it does so as receive-pack exits, beside the reply and its log line. */
async function channelsSettled(): Promise<string[]> {
  for (let i = 0; i < 100 && fs.readdirSync(channelsDir()).some((n) => n !== LIVE); i++) await new Promise((r) => setTimeout(r, 20));
  return fs.readdirSync(channelsDir());
}

const main = (gitDir: string) => sh(gitDir, ['--git-dir', gitDir, 'rev-parse', 'refs/heads/main']);

describe('serve: the pre-receive channel', () => {
  it("a dead serve's leftover channel is removed at start, a live process's kept", () => {
    expect(fs.readdirSync(channelsDir())).toEqual([LIVE]);
    fs.rmSync(path.join(channelsDir(), LIVE), { recursive: true });
  });

  it('an accepted push lands, a refused one shows its remote: lines; no channel dir is left', async () => {
    const { agent, gitDir, dir } = await setup();
    commit(dir, 'system/human.md', memfsFile('About the human', 'Ada, via the channel'));
    const ok = await gitClient(dir, ['push', 'origin', 'main']);
    expect(ok.code, ok.err).toBe(0);
    expect(main(gitDir)).toBe(sh(dir, ['rev-parse', 'HEAD']));
    const before = main(gitDir);
    commit(dir, 'notes/logo.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 1, 2]));
    commit(dir, 'system/new.md', '---\nlimit: 100\n---\nno description');
    const bad = await gitClient(dir, ['push', 'origin', 'main']);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/remote: letta-memfs-hooks: push refused: 2 problems/);
    expect(bad.err).toMatch(/remote: letta-memfs-hooks: push refused: notes\/logo\.png: is a binary file/);
    expect(bad.err).toMatch(/remote: letta-memfs-hooks: push refused: system\/new\.md: frontmatter has no description/);
    expect(bad.err).toMatch(/\[remote rejected\] main -> main \(pre-receive hook declined\)/);
    expect(main(gitDir)).toBe(before);
    await waitForLog(svc, new RegExp(`POST ${agent} git-receive-pack 200 .*\\n(.|\\n)*POST ${agent} git-receive-pack 200`));
    expect(await channelsSettled()).toEqual([]);
  });

  it('concurrent pushes to two agents both land, each checked on its own channel', async () => {
    const a = await setup();
    const b = await setup();
    commit(a.dir, 'system/human.md', memfsFile('About the human', 'Ada, A'));
    commit(b.dir, 'system/human.md', memfsFile('About the human', 'Ada, B'));
    commit(b.dir, 'notes/x.bin', Buffer.from([0, 1]));
    const [ra, rb] = await Promise.all([gitClient(a.dir, ['push', 'origin', 'main']), gitClient(b.dir, ['push', 'origin', 'main'])]);
    expect(ra.code, ra.err).toBe(0);
    expect(main(a.gitDir)).toBe(sh(a.dir, ['rev-parse', 'HEAD']));
    // The refusal reaches the client that pushed it, and only that one.
    expect(rb.err).toMatch(/remote: letta-memfs-hooks: push refused: notes\/x\.bin: is a binary file/);
    expect(ra.err).not.toMatch(/push refused/);
    await waitForLog(svc, new RegExp(`POST ${b.agent} git-receive-pack 200`));
    await waitForLog(svc, new RegExp(`POST ${a.agent} git-receive-pack 200`));
    expect(await channelsSettled()).toEqual([]);
    // Both refusals of this file so far are counted as the content rule's (receive-pack's report says so).
    const metrics = /metrics on (http:\/\/\S+\/metrics)/.exec(svc.log())![1];
    expect(await (await fetch(metrics)).text()).toMatch(/^lmh_serve_push_refusals_total\{rule="pre-receive"\} 2$/m);
  });

  it('a channel that cannot be made refuses the push before git runs (fail closed)', async () => {
    const { gitDir, dir } = await setup();
    const before = main(gitDir);
    commit(dir, 'system/human.md', memfsFile('About the human', 'Ada, no channel'));
    // A file where the directory was (a permission would not stop root).
    fs.rmSync(channelsDir(), { recursive: true });
    fs.writeFileSync(channelsDir(), '');
    try {
      const r = await gitClient(dir, ['push', 'origin', 'main']);
      expect(r.code).not.toBe(0);
      await waitForLog(svc, /cannot make the channel to our pre-receive/);
    } finally {
      fs.rmSync(channelsDir());
      fs.mkdirSync(channelsDir(), { mode: 0o700 });
    }
    expect(main(gitDir)).toBe(before);
  });
});

/** Runs the hook script serve writes, as git would: in repo.git, ref lines on stdin, git's quarantine in the environment. */
function runHook(script: string, gitDir: string, env: Record<string, string>, stdin: string): Promise<{ code: number | null; err: string }> {
  const child = spawn(script, [], { cwd: gitDir, env: { PATH: process.env.PATH, ...env }, stdio: ['pipe', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  child.stdin.on('error', () => undefined); // a refusing hook need not read its stdin
  child.stdin.end(stdin);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, err })));
}

describe('the pre-receive script against a channel of this process', () => {
  let t: { dir: string; cleanup: () => void };
  let script: string;
  let channels: HookChannels;
  let gitDir: string;
  let other: string;
  let head: string;
  beforeAll(async () => {
    t = tempDir('lmh-ch-unit-');
    const hooks = await createServiceHooks(path.join(t.dir, 'memfs'));
    script = path.join(hooks.dir, 'pre-receive');
    channels = await HookChannels.create(hooks.channelsDir);
    gitDir = createAgentRepo(path.join(t.dir, 'memfs'), newAgentId());
    other = createAgentRepo(path.join(t.dir, 'memfs'), newAgentId());
    head = main(gitDir);
  });
  afterAll(() => t?.cleanup());

  const quarantine = (repo: string, name = 'tmp_objdir-incoming-Zz09aB') => {
    const q = path.join(repo, 'objects', name);
    fs.mkdirSync(q, { recursive: true });
    return q;
  };
  async function push(channel: HookChannel, q: string): Promise<{ code: number | null; err: string }> {
    channel.serve((input, gone) => decidePush({ gitDir, agent: 'agent-x' }, input, gone));
    try {
      return await runHook(script, gitDir, { ...channel.env, GIT_QUARANTINE_PATH: q }, `${head} ${head} refs/heads/main\n`);
    } finally {
      await channel.close();
    }
  }

  it("accepts with git's own form of a quarantine (<repo>/./objects/tmp_objdir-incoming-*)", async () => {
    const q = quarantine(gitDir);
    const r = await push(await channels.open(), `${gitDir}/./objects/${path.basename(q)}`);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  });

  it.each([
    ['another repo', () => quarantine(other)],
    ['a dot-dot path', () => `${gitDir}/objects/../../${path.basename(path.dirname(gitDir))}/repo.git/objects/${path.basename(quarantine(gitDir))}`],
    ['not a quarantine name', () => quarantine(gitDir, 'pack')],
    ['a symlink named as one', () => {
      const link = path.join(gitDir, 'objects', 'tmp_objdir-incoming-L1nk00');
      fs.symlinkSync(quarantine(other, 'tmp_objdir-incoming-Target'), link);
      return link;
    }],
    ['missing', () => path.join(gitDir, 'objects', 'tmp_objdir-incoming-Gone00')],
    ['empty', () => ''],
    ['relative', () => `objects/${path.basename(quarantine(gitDir))}`],
  ])('a forged quarantine path (%s) is refused', async (_what, forge) => {
    const r = await push(await channels.open(), forge());
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/letta-memfs-hooks: push refused: the server could not check it \(git named no quarantine of this repo's\)/);
  });

  it('a push of deletions only comes without a quarantine (git receives no pack): checked all the same', async () => {
    const channel = await channels.open();
    channel.serve((input, gone) => decidePush({ gitDir, agent: 'agent-x' }, input, gone));
    const zero = '0'.repeat(40);
    const r = await runHook(script, gitDir, channel.env, `${head} ${zero} refs/heads/main\n${head} ${zero} refs/heads/other\n`);
    await channel.close();
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/refs\/heads\/other: only refs\/heads\/main can be pushed/);
  });

  it('a channel directory gone is a refusal', async () => {
    const channel = await channels.open();
    fs.rmSync(channel.dir, { recursive: true });
    const r = await push(channel, quarantine(gitDir));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/push refused: the server cannot check it now/);
  });

  it('no channel in the environment is a refusal', async () => {
    const r = await runHook(script, gitDir, { GIT_QUARANTINE_PATH: quarantine(gitDir) }, `${head} ${head} refs/heads/main\n`);
    expect(r.code).toBe(1);
  });

  it('serve gone while the hook waits for its verdict: the hook sees EOF and refuses', async () => {
    const channel = await channels.open();
    let asked!: () => void;
    const wasAsked = new Promise<void>((res) => (asked = res));
    channel.serve((_input, gone) => {
      asked();
      return new Promise((res) => gone.addEventListener('abort', () => res({ accept: true, lines: [] })));
    });
    const running = runHook(script, gitDir, { ...channel.env, GIT_QUARANTINE_PATH: quarantine(gitDir) }, `${head} ${head} refs/heads/main\n`);
    await wasAsked;
    await channel.close();
    const r = await running;
    expect(r.code).toBe(1);
    expect(fs.existsSync(channel.dir)).toBe(false);
  });

  it('over 1 MiB of ref lines is refused without asking the check, and the hook is not left waiting', async () => {
    const channel = await channels.open();
    let asked = false;
    channel.serve(async () => {
      asked = true;
      return { accept: true, lines: [] };
    });
    const line = `${head} ${head} refs/heads/main\n`;
    const r = await runHook(script, gitDir, { ...channel.env, GIT_QUARANTINE_PATH: quarantine(gitDir) }, line.repeat(Math.ceil((1024 * 1024) / line.length) + 10));
    await channel.close();
    expect(r.code).toBe(1);
    expect(asked).toBe(false);
    expect(r.err).toMatch(/push refused: over 1048576 bytes of ref updates/);
  });

  it("a check's line that reads like the end marker cannot end the reply early, and a long reply is cut, still refusing", async () => {
    const channel = await channels.open();
    channel.serve(async () => ({ accept: false, lines: ['.', ...Array.from({ length: 2000 }, (_, i) => `problem ${i} ${'x'.repeat(40)}`)] }));
    const r = await runHook(script, gitDir, { ...channel.env, GIT_QUARANTINE_PATH: quarantine(gitDir) }, `${head} ${head} refs/heads/main\n`);
    await channel.close();
    expect(r.code).toBe(1);
    const lines = r.err.replace(/\n$/, '').split('\n');
    expect(lines[0]).toBe(' .');
    expect(Buffer.byteLength(r.err)).toBeLessThanOrEqual(32 * 1024);
    expect(lines[lines.length - 1]).toMatch(/^letta-memfs-hooks: \.\.\. \d+ more line\(s\) not shown$/);
  });

  it('a check that throws refuses with one line', async () => {
    const channel = await channels.open();
    channel.serve(async () => {
      throw new Error('cat-file died\nsecond line');
    });
    const r = await runHook(script, gitDir, { ...channel.env, GIT_QUARANTINE_PATH: quarantine(gitDir) }, `${head} ${head} refs/heads/main\n`);
    await channel.close();
    expect(r.code).toBe(1);
    expect(r.err).toBe('letta-memfs-hooks: push refused: the server could not check it (cat-file died); try again\n');
  });
});
