/** `status` for a client checkout: what init set up, whether it still holds, and the last push and pull seen. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { git, type RepoPaths } from '../git/git.js';
import { redactUrl } from '../core/redact.js';
import { readJson, readSettings, stateDirOf } from '../core/settings.js';
import { hooksDirOf } from '../install/installer.js';
import { readManifest } from '../install/manifest.js';
import { isOurShim } from '../install/shim.js';
import { readToken } from '../core/token.js';
import { escapePath } from '../validate/text.js';
import { AUTH_FILE, authHeader, readAuthHeader } from './credentials.js';
import { selfCommand } from '../core/self-command.js';
import { formatLocalRows, localSyncStatus, type LocalSyncStatus } from './local-status.js';
import { LOCAL_TRACKING_REF } from './local-backend.js';
import { refusalFix, refusalReason } from './merge-refusal.js';

export interface ClientStatus {
  repo: string;
  installed: boolean;
  role?: string;
  agentId?: string;
  /** The configured external remote (redacted). */
  remote?: string;
  /** What git actually uses for origin after url.*.insteadOf (redacted), and whether that is the external remote. */
  effectiveFetchUrl?: string;
  effectivePushUrl?: string;
  redirected?: boolean;
  hooksDir?: string;
  hooks: { name: string; state: 'installed' | 'missing' | 'replaced'; chained: boolean }[];
  /** https only: whether the auth include exists, its mode, and whether it holds the token available now. */
  auth?: { file: string; present: boolean; mode?: string; token: 'current' | 'stale' | 'unknown' | 'none' };
  lastPush?: { at: string; url: string; refused: boolean };
  /** `refs/remotes/origin/main`: what git last saw on the external host (updated by fetch, pull and push). */
  remoteMain?: { oid: string; date: string; ahead: number; behind: number };
  lastPull?: string;
  lastCheckout?: string;
  /** Local-backend checkouts: background pushes, pull rounds and conflict refs. */
  local?: LocalSyncStatus;
}

/** When the shim last touched a marker file (hooks/shim.sh, client post-merge/post-checkout/pre-push), as ISO time. */
async function touchedAt(file: string): Promise<string | undefined> {
  const st = await fs.stat(file).catch(() => undefined);
  return st ? st.mtime.toISOString() : undefined;
}

/**
 * The later of the two records of a push: last-push.json, which node's pre-push writes when it validated one, and
 * last-push, which hooks/shim.sh writes (the redacted URL; its mtime is the time) for a push it let through without
 * starting node.
 */
async function lastPush(stateDir: string): Promise<ClientStatus['lastPush']> {
  const checked = await readJson<{ at: string; url: string; refused: boolean }>(path.join(stateDir, 'last-push.json')).catch(() => undefined);
  const marker = path.join(stateDir, 'last-push');
  const [at, text] = await Promise.all([touchedAt(marker), fs.readFile(marker, 'utf8').catch(() => undefined)]);
  const fromShell = at !== undefined && text !== undefined ? { at, url: redactUrl(text.replace(/\n$/, '')), refused: false } : undefined;
  if (!checked || (fromShell && Date.parse(fromShell.at) > Date.parse(checked.at))) return fromShell;
  return { at: checked.at, url: checked.url, refused: checked.refused };
}

export async function clientStatus(repo: RepoPaths, env: NodeJS.ProcessEnv = process.env): Promise<ClientStatus> {
  const stateDir = stateDirOf(repo.commonDir);
  const [settings, manifest] = await Promise.all([readSettings(stateDir), readManifest(stateDir)]);
  const where = repo.workTree ?? repo.gitDir;
  const out: ClientStatus = { repo: where, installed: Boolean(settings && manifest), hooks: [] };
  if (!settings || !manifest) return out;
  const opt = repo.workTree ? { cwd: repo.workTree } : { gitDir: repo.gitDir };
  out.role = settings.role;
  out.agentId = settings.agentId;
  out.remote = redactUrl(settings.remote);

  const fetchUrl = await git(['remote', 'get-url', 'origin'], { ...opt, allowFailure: true });
  const pushUrl = await git(['remote', 'get-url', '--push', 'origin'], { ...opt, allowFailure: true });
  if (fetchUrl.exitCode === 0) out.effectiveFetchUrl = redactUrl(fetchUrl.stdout);
  if (pushUrl.exitCode === 0) out.effectivePushUrl = redactUrl(pushUrl.stdout);
  out.redirected = fetchUrl.stdout === settings.remote && pushUrl.stdout === settings.remote;

  // The hooks dir git uses now, which may differ from install time if someone set core.hooksPath since.
  const { dir } = await hooksDirOf(repo);
  out.hooksDir = dir;
  for (const name of manifest.hooks) {
    const text = await fs.readFile(path.join(dir, name), 'utf8').catch(() => undefined);
    const chained = await fs.stat(path.join(stateDir, 'chained', name)).then(() => true, () => false);
    out.hooks.push({ name, state: text === undefined ? 'missing' : isOurShim(text) ? 'installed' : 'replaced', chained });
  }

  if (/^https?:/i.test(settings.remote)) {
    const file = path.join(stateDir, AUTH_FILE);
    const st = await fs.stat(file).catch(() => undefined);
    const recorded = st ? await readAuthHeader(file) : undefined;
    let token: 'current' | 'stale' | 'unknown' | 'none' = 'none';
    if (recorded) {
      const now = await readToken(settings.config, env).catch(() => undefined);
      token = !now ? 'unknown' : authHeader(settings.config.gitUsername, now.token) === recorded ? 'current' : 'stale';
    }
    out.auth = { file, present: Boolean(st), mode: st ? (st.mode & 0o777).toString(8) : undefined, token };
  }

  out.lastPush = await lastPush(stateDir);
  const rm = await git(['log', '-1', '--format=%H %cI', 'refs/remotes/origin/main', '--'], { ...opt, allowFailure: true });
  if (rm.exitCode === 0 && rm.stdout) {
    const [oid, date] = rm.stdout.split(' ');
    const counts = await git(['rev-list', '--left-right', '--count', 'HEAD...refs/remotes/origin/main'], { ...opt, allowFailure: true });
    const [ahead, behind] = counts.exitCode === 0 ? counts.stdout.split(/\s+/).map(Number) : [0, 0];
    out.remoteMain = { oid, date, ahead, behind };
  }
  out.lastPull = await touchedAt(path.join(stateDir, 'last-post-merge'));
  out.lastCheckout = await touchedAt(path.join(stateDir, 'last-post-checkout'));
  if (settings.backend === 'local') out.local = await localSyncStatus(repo, stateDir);
  return out;
}

/** Pure: the origin row. A local-backend checkout's origin is the remote itself (nothing is redirected there). */
function originRow(s: ClientStatus): string {
  if (s.redirected) return s.local ? 'the remote itself (local backend: fetch and push go straight to it)' : 'redirected (fetch and push go to the remote)';
  return `NOT ${s.local ? 'the remote' : 'redirected'}: fetch ${s.effectiveFetchUrl ?? 'none'}, push ${s.effectivePushUrl ?? 'none'} (fix: re-run init)`;
}

/** Pure: the text form; every path escaped (a directory name may hold terminal escape sequences). */
export function formatClientStatus(s: ClientStatus): string {
  if (!s.installed) return `${escapePath(s.repo)}: letta-memfs-hooks is not set up here (run ${selfCommand()} init)`;
  const rows: [string, string][] = [
    ['checkout', escapePath(s.repo)],
    ['role', s.role ?? '?'],
    ['agent', s.agentId ?? '?'],
    ['remote', s.remote ?? '?'],
    ['origin', originRow(s)],
    ['hooks', `${s.hooks.map((h) => `${h.name} ${h.state}${h.chained ? ' (+ chained original)' : ''}`).join(', ')} in ${escapePath(s.hooksDir ?? '')}`],
  ];
  if (s.auth) {
    const t = { current: 'holds the current token', stale: 'holds an OLD token (fix: re-run init)', unknown: 'token not available here to compare', none: 'no token' }[s.auth.token];
    rows.push(['auth', s.auth.present ? `${escapePath(s.auth.file)} (mode ${s.auth.mode}) ${t}` : `missing ${escapePath(s.auth.file)} (fix: re-run init)`]);
  }
  rows.push(['last push', s.lastPush ? `${s.lastPush.at} to ${s.lastPush.url}${s.lastPush.refused ? ' (refused by pre-push)' : ''}` : 'none seen']);
  rows.push([
    'origin/main',
    s.remoteMain ? `${s.remoteMain.oid.slice(0, 12)} ${s.remoteMain.date}, local ${s.remoteMain.ahead} ahead, ${s.remoteMain.behind} behind` : 'not fetched yet',
  ]);
  // A local-backend checkout is pulled by our `pull` (its row below), whose merges run no hook of ours.
  if (!s.local) rows.push(['last pull', s.lastPull ?? 'none seen']);
  rows.push(['last checkout', s.lastCheckout ?? 'none seen']);
  if (s.local) rows.push(...formatLocalRows(s.local));
  return rows.map(([k, v]) => `${k.padEnd(12)} ${v}`).join('\n');
}

/** Pure: what is wrong with a checkout, with the fix and `status`'s exit code for it; undefined when nothing is. */
export function statusProblem(s: ClientStatus): { problem: string; fix: string; exitCode: 1 | 3 } | undefined {
  if (!s.installed) return { problem: 'not set up', fix: `${selfCommand()} init --all`, exitCode: 1 };
  if (!s.redirected) return { problem: 'origin is not redirected to the external remote', fix: `re-run ${selfCommand()} init in ${escapePath(s.repo)}`, exitCode: 1 };
  if (s.local?.refused) return { problem: `pull refused a merge: ${refusalReason(s.local.refused)}`, fix: refusalFix(s.local.refused, LOCAL_TRACKING_REF), exitCode: 1 };
  const n = s.local?.conflicts.length ?? 0;
  if (n > 0) return { problem: `${n} conflict ref(s) kept by pull (${s.local!.conflicts.map((c) => c.ref).join(', ')})`, fix: `look at them with ${selfCommand()} status --repo ${escapePath(s.repo)}`, exitCode: 3 };
  return undefined;
}
