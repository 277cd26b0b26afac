/**
 * `restore`'s effects for one agent: read the facts the planner needs (repo.git sound or not, the host's main), then
 * clone into Letta's layout, move a broken repo.git aside, and hand over to `init --server`'s set-up (initAgent)
 * and `pull` (pullAgent), which fast-forward, merge or push, and bring Letta's blocks to main in either mode.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../core/config/schema.js';
import { formatError, UserError } from '../../core/errors.js';
import { renderRemote } from '../../core/template.js';
import { git, NETWORK_TIMEOUT_MS } from '../../git/git.js';
import { MAIN, readRef } from '../../git/refs.js';
import { externalGitEnv, TRACKING_REF } from '../../git/remote-auth.js';
import { configuredAuthorization, lsRemoteMain, probeRemoteMain } from '../../git/remote-head.js';
import { lastLine } from '../../sync/merge.js';
import { planReconcile, type ReconcileStep } from '../../sync/plan.js';
import type { LettaClientOptions } from '../letta/letta-api.js';
import { writeSyncState } from '../letta/sync-state.js';
import type { AgentRepo } from '../repo/discover.js';
import { type PullOutcome, pullAgent } from '../repo/pull.js';
import { initAgent } from '../setup/init-server.js';
import { type HostState, type LocalState, planRestore, type RestoreStep } from './plan.js';

export interface RestoreContext {
  config: Config;
  letta: LettaClientOptions;
  /** Leave Letta alone (patched mode: no sync call; the sync stays pending for watch or `sync --pending`). */
  noSync?: boolean;
  now?: Date;
  /** Known for the batch (noHooksPathOutsideRepos): hook dirs are then read from each repo's config, not asked of git. */
  noHooksPathOutside?: boolean;
}

export interface RestoreOutcome {
  agentId: string;
  gitDir: string;
  action: RestoreStep['action'];
  /** Where a broken repo.git was moved (replace). */
  movedAside?: string;
  /** The pull that followed the clone or set-up: its steps, head, conflict and sync. */
  pull?: PullOutcome;
  error?: string;
}

/** repo.git as Letta would find it: `git fsck` decides whether what is there can be kept. */
export async function inspectLocal(gitDir: string): Promise<LocalState> {
  const st = await fs.stat(gitDir).catch(() => undefined);
  if (!st) return { kind: 'missing' };
  if (!st.isDirectory()) return { kind: 'broken', why: 'repo.git is not a directory' };
  if (!(await fs.stat(path.join(gitDir, 'HEAD')).catch(() => undefined))) return { kind: 'broken', why: 'no HEAD' };
  const r = await git(['fsck', '--no-progress', '--no-dangling'], { gitDir, allowFailure: true });
  if (r.exitCode !== 0) return { kind: 'broken', why: lastLine(r.stderr || r.stdout) || `git fsck exit ${r.exitCode}` };
  return { kind: 'present', main: await readRef(gitDir, MAIN) };
}

/** The host's main: asked without git where it can be (a path, https), else (ssh, any doubt) by `git ls-remote`. */
async function inspectHost(gitDir: string | undefined, url: string, ctx: RestoreContext): Promise<HostState> {
  const probed = await probeRemoteMain(url, await configuredAuthorization(ctx.config));
  if (probed) return { kind: 'main', oid: probed };
  const remote = await lsRemoteMain(gitDir, url, ctx.config);
  return !remote.ok ? { kind: 'unreadable', error: remote.error } : remote.oid ? { kind: 'main', oid: remote.oid } : { kind: 'empty' };
}

/**
 * The facts for one agent and the planner's step; reads only (also what `--dry-run` runs). `detail`: also how pull
 * would join a sound repo with the host (for the description only; pull decides that itself).
 */
export async function planAgent(repo: AgentRepo, ctx: RestoreContext, detail = false): Promise<{ step: RestoreStep; url: string }> {
  const url = renderRemote(ctx.config.remote!, repo.agentId);
  const local = await inspectLocal(repo.gitDir);
  const host = await inspectHost(local.kind === 'present' ? repo.gitDir : undefined, url, ctx);
  let step: ReconcileStep | undefined;
  if (detail && local.kind === 'present' && host.kind !== 'unreadable') {
    const oid = host.kind === 'main' ? host.oid : undefined;
    const known = !oid || (await git(['cat-file', '-e', `${oid}^{commit}`], { gitDir: repo.gitDir, allowFailure: true })).exitCode === 0;
    const base = known && local.main && oid && local.main !== oid ? await git(['merge-base', local.main, oid], { gitDir: repo.gitDir, allowFailure: true }) : undefined;
    if (known) step = planReconcile({ local: local.main, remote: oid, base: base?.exitCode === 0 ? base.stdout : undefined });
  }
  return { step: planRestore(local, host, ctx.now ?? new Date(), step), url };
}

/**
 * A new repo.git exactly as Letta makes one (`git init -b main`, then its .git folder: non-bare, HEAD at main;
 * git_operations.py @ 0.16.8 `create_repo`), built next to it and renamed into place so Letta never copies half a
 * repo. Patched mode: main is the host's main, with the sync pending (so initAgent records no baseline). Stock mode:
 * main is left unborn, for pull to create it by a push through Letta's /v1/git/, after which Letta syncs the blocks.
 */
async function cloneInto(repo: AgentRepo, url: string, ctx: RestoreContext): Promise<void> {
  const agentDir = path.dirname(repo.gitDir);
  await fs.mkdir(agentDir, { recursive: true });
  const tmp = await fs.mkdtemp(path.join(agentDir, '.restore-'));
  try {
    await git(['init', '-q', '-b', 'main', tmp], { cwd: agentDir });
    const gitDir = path.join(tmp, '.git');
    // Patched mode: main and the remote-tracking ref in one fetch (main is HEAD's branch, still unborn: --update-head-ok).
    const refspecs = [`+refs/heads/main:${TRACKING_REF}`, ...(ctx.letta.mode === 'stock' ? [] : [`+refs/heads/main:${MAIN}`])];
    const f = await git(['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--update-head-ok', url, ...refspecs], {
      gitDir,
      env: externalGitEnv(ctx.config, url),
      allowFailure: true,
      timeoutMs: NETWORK_TIMEOUT_MS,
    });
    if (f.exitCode !== 0) throw new UserError(`fetch from the host failed: ${lastLine(f.stderr)}`, 'check the remote URL, the network and the token, then run restore again');
    if (ctx.letta.mode !== 'stock') {
      const oid = (await readRef(gitDir, MAIN))!;
      // Letta's own repos have an index; its commits reset their temp copy to HEAD anyway.
      await git(['read-tree', MAIN], { gitDir, cwd: tmp });
      await writeSyncState(gitDir, { version: 1, pending: { target: oid, since: new Date().toISOString(), attempts: 0 } });
    }
    await fs.rename(gitDir, repo.gitDir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOTEMPTY' || err.code === 'EEXIST') throw new UserError('repo.git appeared while restoring it', 'run restore again: it then merges what is there');
      throw err;
    });
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/** Restores one agent: the planner's step, then init --server's set-up and a pull. Never throws. */
export async function restoreAgent(repo: AgentRepo, ctx: RestoreContext): Promise<RestoreOutcome> {
  const out: RestoreOutcome = { agentId: repo.agentId, gitDir: repo.gitDir, action: 'fail' };
  try {
    const { step, url } = await planAgent(repo, ctx);
    out.action = step.action;
    if (step.action === 'fail') throw new UserError(step.error, step.fix);
    if (step.action === 'replace') {
      out.movedAside = path.join(path.dirname(repo.gitDir), step.aside);
      await fs.rename(repo.gitDir, out.movedAside);
    }
    if (step.action !== 'pull') await cloneInto(repo, url, ctx);
    await initAgent(repo, ctx.config, undefined, ctx.noHooksPathOutside);
    out.pull = await pullAgent(repo, { config: ctx.config, letta: ctx.letta, noSync: ctx.noSync });
    if (out.pull.error) out.error = out.pull.error;
  } catch (err) {
    out.error = formatError(err);
  }
  return out;
}
