// A hermetic world for hostile cases on both roles: temp HOME and XDG dir, no global git config, a git wrapper that
// logs every git argv into the world's dir (so the secret scan of the dir covers git children completely), TMPDIR
// inside the dir, a Letta Code memory checkout and a Letta memfs root with one agent repo.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect } from 'vitest';
import { makeCheckout, sandbox, type Sandbox, AGENT, LETTA_BASE, secretForms } from '../client/env.js';
import { createServerRepo, repoGitDir } from '../fixtures/server-repo.js';
import { tempDir } from '../helpers/repo.js';
import { expectNoSecret, expectRefused, runHostile, type Run, snapshotAll } from './harness.js';

export { AGENT, LETTA_BASE };

/** A token in the shape of a GitHub PAT: also a valid env var name in lower/mixed case, the hard case. */
export const TOKEN = 'ghp_Zq7vR2mK9xT4wL8nB3cY6dF1hJ5pS0aE2uXo';
export const SERVER_AGENT = 'agent-00000000-0000-4000-8000-00000000aaaa';

export interface World {
  dir: string;
  sb: Sandbox;
  home: string;
  tmp: string;
  checkout: string;
  /** The memfs root (created by `withServer`). */
  memfs: string;
  /** Where code planted by a case would write if it ran; must stay empty. */
  markers: string;
  /** repo.git of SERVER_AGENT (after `withServer`). */
  serverGitDir: string;
  run(args: string[], opts?: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Run>;
  /** Every file of the checkout (incl. .git), the memfs root, HOME and TMPDIR. */
  snapshot(): ReturnType<typeof snapshotAll>;
  markersWritten(): string[];
}

const worlds: (() => void)[] = [];
afterEach(() => {
  for (const c of worlds.splice(0)) c();
});

// The checkout and the memfs root are built once per test file and copied for each case: a case then starts no git
// process before the command under test (neither holds an absolute path, so a copy is as good as a fresh one).
let template: Promise<string> | undefined;
function templateDir(): Promise<string> {
  template ??= (async () => {
    const t = tempDir('lmh-hostile-template-');
    process.on('exit', t.cleanup);
    makeCheckout(sandbox(t.dir), path.join(t.dir, 'checkout'));
    await createServerRepo(path.join(t.dir, 'memfs'), SERVER_AGENT);
    return t.dir;
  })();
  return template;
}

export async function makeWorld(opts: { server?: boolean; env?: Record<string, string> } = {}): Promise<World> {
  const from = await templateDir();
  const t = tempDir('lmh-hostile-');
  worlds.push(t.cleanup);
  const dir = t.dir;
  const tmp = path.join(dir, 'tmp');
  const markers = path.join(dir, 'markers');
  fs.mkdirSync(tmp);
  fs.mkdirSync(markers);
  const sb = sandbox(dir, { TMPDIR: tmp, ...opts.env });
  const checkout = path.join(dir, 'checkout');
  fs.cpSync(path.join(from, 'checkout'), checkout, { recursive: true });
  const memfs = path.join(dir, 'memfs');
  let serverGitDir = '';
  if (opts.server) {
    fs.cpSync(path.join(from, 'memfs'), memfs, { recursive: true });
    serverGitDir = repoGitDir(memfs, SERVER_AGENT);
  }
  return {
    dir,
    sb,
    home: sb.home,
    tmp,
    checkout,
    memfs,
    markers,
    serverGitDir,
    run: (args, o = {}) => runHostile(args, { cwd: o.cwd ?? checkout, baseEnv: sb.env, env: o.env, timeoutMs: o.timeoutMs }),
    snapshot: () => snapshotAll([checkout, memfs, sb.home, tmp, markers]),
    markersWritten: () => fs.readdirSync(markers),
  };
}

/** A client `init` as a script runs it, with the given extra arguments. */
export const clientInit = (extra: string[]) => ['init', '--yes', '--letta-url', LETTA_BASE, ...extra];

/** An `init --server` on the world's memfs root. */
export const serverInit = (w: World, extra: string[]) => ['init', '--server', '--memfs-root', w.memfs, ...extra];

/**
 * The common assertion of a refused case: exit code, one line naming the fix, no stack, nothing changed on disk,
 * nothing planted ran, and (given a secret) the secret in no output, file or other process's argv.
 */
export async function expectRefusedUnchanged(
  w: World,
  args: string[],
  code: number,
  pattern: RegExp,
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; secret?: string; secretInArgv?: boolean; timeoutMs?: number } = {},
): Promise<Run> {
  const before = w.snapshot();
  const r = await w.run(args, opts);
  expectRefused(r, code, pattern);
  expect(w.snapshot()).toEqual(before);
  expect(w.markersWritten()).toEqual([]);
  if (opts.secret) {
    for (const s of secretForms('git', opts.secret)) expectNoSecret(s, r, [w.dir], [], { exceptOwnArgv: opts.secretInArgv });
  }
  return r;
}
