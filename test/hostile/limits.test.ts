// Class 8 of issue 17, resource limits at the command line: a FIFO, a directory or a huge file given as the token
// or serve's secret file is refused at once with what it is (never a read that blocks on the FIFO's missing
// writer), and a remote whose port cannot exist is refused before anything is written.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/core/fs.js';
import { requireBuild } from '../client/env.js';
import { tempDir } from '../helpers/repo.js';
import { expectRefused } from './harness.js';
import { clientInit, expectRefusedUnchanged, makeWorld, serverInit } from './world.js';

requireBuild();

const REMOTE = 'https://git.example.com/agents/{agentId}.git';
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** Files that are not secret files, outside the world (its snapshot would block reading the FIFO). */
function oddFiles(): Record<'FIFO' | 'directory' | 'huge file', [string, RegExp]> {
  const t = tempDir('lmh-odd-');
  cleanups.push(t.cleanup);
  const fifo = path.join(t.dir, 'fifo');
  execFileSync('mkfifo', ['-m', '600', fifo]);
  const dir = path.join(t.dir, 'dir');
  fs.mkdirSync(dir, { mode: 0o700 });
  const huge = path.join(t.dir, 'huge');
  fs.writeFileSync(huge, 'x'.repeat(8 << 20), { mode: 0o600 });
  return {
    FIFO: [fifo, /is a FIFO, not a regular file/],
    directory: [dir, /is a directory, not a regular file/],
    'huge file': [huge, /is 8388608 bytes, too large to hold just a secret/],
  };
}

const KINDS = ['FIFO', 'directory', 'huge file'] as const;

describe('class 8: token and secret files that are not small regular files are refused at once', () => {
  it.each(KINDS)('client init --token-file <%s>', async (kind) => {
    const w = await makeWorld();
    const [file, pattern] = oddFiles()[kind];
    // A read that blocks on the FIFO is killed at the timeout (exit 128), and fails the case.
    await expectRefusedUnchanged(w, clientInit(['--remote', REMOTE, '--token-file', file]), 1, pattern, { timeoutMs: 30_000 });
  });

  it.each(KINDS)('init --server --token-file <%s>', async (kind) => {
    const w = await makeWorld({ server: true });
    const [file, pattern] = oddFiles()[kind];
    await expectRefusedUnchanged(w, serverInit(w, ['--remote', REMOTE, '--token-file', file]), 1, pattern, { cwd: w.dir, timeoutMs: 30_000 });
  });

  it.each(KINDS)('serve --secret-file <%s>', async (kind) => {
    const w = await makeWorld({ server: true });
    const [file, pattern] = oddFiles()[kind];
    const r = await w.run(['serve', '--memfs-root', w.memfs, '--port', '0', '--secret-file', file], { cwd: w.dir, timeoutMs: 30_000 });
    expectRefused(r, 1, pattern);
  });
});

describe('class 8: a remote port over 65535 is refused', () => {
  it.each(['https://git.example.com:65536/agents/{agentId}.git', 'https://git.example.com:99999999/agents/{agentId}.git', 'ssh://git@git.example.com:70000/agents/{agentId}.git'])(
    'client init --remote %s',
    async (remote) => {
      const w = await makeWorld();
      await expectRefusedUnchanged(w, clientInit(['--no-verify', '--remote', remote]), 2, /the remote has port \d+, which cannot exist \(fix: use a port from 1 to 65535/);
    },
  );

  it('init --server --remote with port 65536', async () => {
    const w = await makeWorld({ server: true });
    await expectRefusedUnchanged(w, serverInit(w, ['--remote', 'https://git.example.com:65536/{agentId}.git']), 2, /port 65536, which cannot exist/, { cwd: w.dir });
  });
});

describe('class 8: a write that fails leaves no temp file', () => {
  it('writeFileAtomic onto a directory (rename refused) removes its 0600 temp file holding the secret', async () => {
    const t = tempDir('lmh-atomic-');
    cleanups.push(t.cleanup);
    const target = path.join(t.dir, 'http-auth.gitconfig');
    fs.mkdirSync(path.join(target, 'in-the-way'), { recursive: true });
    await expect(writeFileAtomic(target, 'extraHeader = Authorization: Basic c2VjcmV0', 0o600)).rejects.toThrow();
    expect(fs.readdirSync(t.dir)).toEqual(['http-auth.gitconfig']);
  });
});
