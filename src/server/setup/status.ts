import fs from 'node:fs';
import type { ServerMode } from '../../core/config/schema.js';
import path from 'node:path';
import { readSmallFile } from '../../core/fs.js';
import { readSettings, stateDirOf } from '../../core/settings.js';
import { isOurShim } from '../../install/shim.js';
import { type ServerContext } from './context.js';
import { type AgentRepo } from '../repo/discover.js';
import { SERVER_HOOKS } from './init-server.js';
import { CONFLICT_PREFIX } from '../../sync/merge.js';
import { readPullState } from '../../sync/state.js';
import { MAIN, readRef } from '../../git/refs.js';
import { lsRemoteMain } from '../../git/remote-head.js';
import { TRACKING_REF } from '../../git/remote-auth.js';
import { readSyncState } from '../letta/sync-state.js';
import { selfCommand } from '../../core/self-command.js';

export interface AgentStatus {
  agentId: string;
  gitDir: string;
  /** init --server has set this repo up (its settings exist); otherwise nothing below is expected. */
  setUp: boolean;
  /** How external commits reach Letta for this agent: its recorded settings, else the config's (see serverMode). */
  mode: ServerMode;
  remote?: string;
  /** main in repo.git. */
  head?: string;
  /** The external main: as last fetched, or asked live with --remote. */
  externalHead?: string;
  externalHeadSource: 'last fetch' | 'live';
  lastSynced?: string;
  lastSyncedAt?: string;
  /** A sync not acknowledged yet: the marker, or main ahead of lastSynced. */
  pending?: { target: string; since?: string; attempts?: number; retryAfter?: string };
  /** Conflict refs still present (delete one when its content is dealt with). */
  conflicts: { ref: string; paths: string[]; at?: string }[];
  /** Refs under the conflict prefix that no conflict of ours recorded at their commit: nothing to merge from. */
  unknownRefs: string[];
  lastError?: { message: string; at: string; during: 'sync' | 'pull' };
  hooks: { installed: string[]; missing: string[]; notExecutable: string[] };
}

async function conflictRefs(gitDir: string): Promise<string[]> {
  const dir = path.join(gitDir, CONFLICT_PREFIX);
  let loose: string[] = [];
  try {
    loose = fs.readdirSync(dir);
  } catch {
    // no conflict refs dir
  }
  const packed = (readSmallFile(path.join(gitDir, 'packed-refs')) ?? '')
    .split('\n')
    .map((l) => l.slice(41))
    .filter((r) => r.startsWith(CONFLICT_PREFIX));
  return [...new Set([...loose.map((n) => CONFLICT_PREFIX + n), ...packed])].sort();
}

async function hookState(gitDir: string): Promise<AgentStatus['hooks']> {
  const out: AgentStatus['hooks'] = { installed: [], missing: [], notExecutable: [] };
  for (const h of SERVER_HOOKS) {
    const file = path.join(gitDir, 'hooks', h);
    const text = readSmallFile(file);
    if (text === undefined || !isOurShim(text)) out.missing.push(h);
    else if ((fs.statSync(file).mode & 0o111) === 0) out.notExecutable.push(h);
    else out.installed.push(h);
  }
  return out;
}

/** One agent's status from files only (no git process), unless `live` asks the external host for its main. */
export async function agentStatus(repo: AgentRepo, ctx: ServerContext, live = false): Promise<AgentStatus> {
  const [head, tracking, sync, pull, settings, refs, hooks] = await Promise.all([
    readRef(repo.gitDir, MAIN),
    readRef(repo.gitDir, TRACKING_REF),
    readSyncState(repo.gitDir),
    readPullState(repo.gitDir),
    readSettings(stateDirOf(repo.gitDir)).catch(() => undefined),
    conflictRefs(repo.gitDir),
    hookState(repo.gitDir),
  ]);
  let externalHead = tracking;
  if (live && settings?.remote) {
    const r = await lsRemoteMain(repo.gitDir, settings.remote, ctx.config);
    externalHead = r.ok ? r.oid : undefined;
  }
  // Only a conflict we recorded, still at the commit we kept, is shown as one: anyone able to write a ref (a push
  // before serve refused other refs, a hand-made one) must not get an operator to merge their content.
  const recorded = (
    await Promise.all(
      refs.map(async (ref) => {
        const rec = pull.conflicts.find((c) => c.ref === ref);
        return rec && rec.server === (await readRef(repo.gitDir, ref)) ? { ref, rec } : undefined;
      }),
    )
  ).filter((r) => r !== undefined);
  // An agent not set up (new, or uninstalled) has no sync to deliver: nothing of ours tracks it.
  const pending = settings ? (sync.pending ?? (head && head !== sync.lastSynced ? { target: head } : undefined)) : undefined;
  const lastError = sync.lastError
    ? { ...sync.lastError, during: 'sync' as const }
    : pull.lastError
      ? { ...pull.lastError, during: 'pull' as const }
      : undefined;
  return {
    agentId: repo.agentId,
    gitDir: repo.gitDir,
    setUp: Boolean(settings),
    mode: settings?.config.serverMode ?? ctx.config.serverMode,
    remote: settings?.remote,
    head,
    externalHead,
    externalHeadSource: live ? 'live' : 'last fetch',
    lastSynced: sync.lastSynced,
    lastSyncedAt: sync.lastSyncedAt,
    pending,
    conflicts: recorded.map(({ ref, rec }) => ({ ref, paths: rec!.paths, at: rec!.at })),
    unknownRefs: refs.filter((ref) => !recorded.some((r) => r.ref === ref)),
    lastError,
    hooks,
  };
}

const short = (s?: string) => (s ? s.slice(0, 12) : '-');

/** The backoff of a failed sync, so an operator sees why nothing is tried right now (Letta down). */
function backoffNote(retryAfter: string | undefined, now = Date.now()): string {
  if (!retryAfter) return '';
  const ms = Date.parse(retryAfter) - now;
  return ms > 0 ? `, backing off: next retry in ${Math.ceil(ms / 1000)} s (${retryAfter})` : ', retry due now';
}

export function formatAgentStatus(s: AgentStatus): string {
  const lines = [
    `${s.agentId}`,
    `  remote        ${s.remote ?? `(not set up: run ${selfCommand()} init --server)`}`,
    `  repo.git main ${short(s.head)}   external main ${short(s.externalHead)} (${s.externalHeadSource})`,
    `  last synced   ${short(s.lastSynced)}${s.lastSyncedAt ? ` at ${s.lastSyncedAt}` : ''}${s.pending ? `   PENDING ${short(s.pending.target)}${s.pending.attempts ? ` (${s.pending.attempts} tries)` : ''}${backoffNote(s.pending.retryAfter)}` : ''}`,
  ];
  if (s.setUp && (s.hooks.missing.length || s.hooks.notExecutable.length)) {
    lines.push(`  hooks         missing: ${[...s.hooks.missing, ...s.hooks.notExecutable.map((h) => `${h} (not executable)`)].join(', ')} (fix: re-run ${selfCommand()} init --server)`);
  }
  for (const c of s.conflicts) {
    lines.push(`  CONFLICT      ${c.ref}${c.paths.length ? ` (${c.paths.join(', ')})` : ''}: main took the external version; the server's is in that ref (fix: merge what you need by hand, then git --git-dir=${s.gitDir} update-ref -d ${c.ref})`);
  }
  for (const ref of s.unknownRefs) {
    lines.push(`  UNKNOWN REF   ${ref}: not a conflict letta-memfs-hooks recorded; do not merge it (fix: inspect it, then git --git-dir=${s.gitDir} update-ref -d ${ref})`);
  }
  if (s.lastError) lines.push(`  last error    ${s.lastError.during}: ${s.lastError.message} (${s.lastError.at})`);
  return lines.join('\n');
}

/** 3 when a conflict ref exists, 1 when an agent has an error or missing hooks, else 0. */
export function statusExitCode(all: readonly AgentStatus[]): number {
  if (all.some((s) => s.conflicts.length > 0)) return 3;
  if (all.some((s) => s.lastError || s.unknownRefs.length > 0 || (s.setUp && (s.hooks.missing.length || s.hooks.notExecutable.length)))) return 1;
  return 0;
}
