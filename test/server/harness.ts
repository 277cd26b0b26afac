/** Shared set-up for the server tests: a memfs root with Letta-made repos, external bare repos, the Letta double. */
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Config, mergeLayers } from '../../src/core/config/schema.js';
import type { AgentRepo } from '../../src/server/repo/discover.js';
import type { LettaClientOptions } from '../../src/server/letta/letta-api.js';
import { startLettaDouble, type LettaDouble } from '../fixtures/letta-double.js';
import { createServerRepo, g, newAgentId, ORG_ID } from '../fixtures/server-repo.js';

// Tiny repos, many git processes: on tmpfs a test run spends its time in git, not in the disk's fsyncs (git
// fsyncs objects and refs; on this machine's ext4 a `cp -r` of a repo.git takes ~60 ms, on tmpfs ~2 ms). The
// fixtures' temp dirs follow TMPDIR. LMH_TEST_TMP overrides.
const TMP = process.env.LMH_TEST_TMP ?? (fsSync.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir());
process.env.TMPDIR = TMP;

export interface Harness {
  root: string;
  memfsRoot: string;
  extRoot: string;
  letta: LettaDouble;
  config: Config;
  lettaOpts: LettaClientOptions;
  /** Creates an agent repo the Letta way plus its empty external bare repo; returns the AgentRepo. */
  addAgent(files?: Record<string, string>, id?: string): Promise<AgentRepo>;
  extPath(agentId: string): string;
  cleanup(): Promise<void>;
}

export async function makeHarness(opts: { password?: string; config?: Partial<Config> } = {}): Promise<Harness> {
  const root = await fs.realpath(await fs.mkdtemp(path.join(TMP, 'lmh-srv-')));
  const memfsRoot = path.join(root, 'memfs');
  const extRoot = path.join(root, 'ext');
  await fs.mkdir(path.join(memfsRoot, 'repository', ORG_ID), { recursive: true });
  await fs.mkdir(extRoot, { recursive: true });
  const letta = await startLettaDouble({ memfsRoot, password: opts.password });
  const config = mergeLayers([
    { remote: `${extRoot}/{agentId}.git`, memfsRoot, lettaUrl: letta.url, syncRetries: 1, syncTimeoutSeconds: 5, ...opts.config },
  ]);
  const lettaOpts: LettaClientOptions = { baseUrl: letta.url, password: opts.password, userId: config.lettaUserId, timeoutMs: 5000, retries: 1, backoffMs: 1 };
  const extPath = (id: string) => path.join(extRoot, `${id}.git`);
  return {
    root,
    memfsRoot,
    extRoot,
    letta,
    config,
    lettaOpts,
    extPath,
    async addAgent(files, id = newAgentId()) {
      const gitDir = await createServerRepo(memfsRoot, id, files);
      await g(root, ['init', '-q', '--bare', '-b', 'main', extPath(id)]);
      return { agentId: id, orgId: ORG_ID, gitDir };
    },
    async cleanup() {
      await letta.close();
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}

/** A client checkout of the external repo that commits one file and pushes (pull --rebase and retry on rejection). */
export async function clientPush(extPath: string, workDir: string, file: string, content: string): Promise<string> {
  const env = { GIT_AUTHOR_NAME: 'Client', GIT_AUTHOR_EMAIL: 'client@example.com', GIT_COMMITTER_NAME: 'Client', GIT_COMMITTER_EMAIL: 'client@example.com' };
  try {
    await fs.access(path.join(workDir, '.git'));
    await g(workDir, ['pull', '-q', '--rebase', 'origin', 'main'], { env });
  } catch {
    await g(path.dirname(workDir), ['clone', '-q', extPath, workDir]);
  }
  await fs.mkdir(path.dirname(path.join(workDir, file)), { recursive: true });
  await fs.writeFile(path.join(workDir, file), content);
  await g(workDir, ['add', file]);
  await g(workDir, ['commit', '-q', '--allow-empty', '-m', `client edit ${file}`], { env });
  for (let i = 0; i < 5; i++) {
    try {
      await g(workDir, ['push', '-q', 'origin', 'HEAD:main']);
      return g(workDir, ['rev-parse', 'HEAD']);
    } catch {
      await g(workDir, ['pull', '-q', '--rebase', 'origin', 'main'], { env });
    }
  }
  throw new Error('client push kept failing');
}

export const rev = (gitDir: string, ref: string) => g(gitDir, [`--git-dir=${gitDir}`, 'rev-parse', ref]);
