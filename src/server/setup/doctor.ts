import { mapLimit } from '../../core/map-limit.js';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Check } from '../../core/check.js';
import { git } from '../../git/git.js';
import { readSettings, stateDirOf } from '../../core/settings.js';
import type { ServerContext } from './context.js';
import type { AgentRepo } from '../repo/discover.js';
import type { ServerMode } from '../../core/config/schema.js';
import { probe } from '../letta/letta-api.js';
import { type Endpoint, type LettaKind, probeService, type ServiceAnswer } from './server-mode.js';
import { INCLUDED_CONFIG } from './init-server.js';
import { lsRemoteMain } from '../../git/remote-head.js';
import { agentStatus } from './status.js';
import { selfCommand } from '../../core/self-command.js';

export type { Check } from '../../core/check.js';
export { formatCheck } from '../../core/check.js';

/** Pure: `git version 2.39.5` -> [2, 39, 5]. */
export function parseGitVersion(text: string): number[] | undefined {
  const m = /git version (\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

// reference-transaction: git 2.28; `merge-tree --write-tree` (merging without a work tree): git 2.38.
const MIN_GIT = [2, 38, 0];

export async function checkGit(): Promise<Check> {
  const r = await git(['--version'], { allowFailure: true });
  const v = parseGitVersion(r.stdout);
  const ok = v !== undefined && (v[0] > MIN_GIT[0] || (v[0] === MIN_GIT[0] && v[1] >= MIN_GIT[1]));
  return {
    name: 'git version',
    ok,
    detail: v ? v.join('.') : r.stdout || 'unknown',
    fix: ok ? undefined : 'install git 2.38 or newer (reference-transaction needs 2.28, merge-tree --write-tree 2.38)',
  };
}

/**
 * Letta reachable, auth accepted, and the server mode fitting it: patched needs the sync-from-git endpoint (a 404
 * `Not Found` means the server patch is missing); Letta without it is what stock mode is for.
 */
export async function checkLetta(ctx: ServerContext, kind: LettaKind): Promise<Check[]> {
  const o = ctx.letta;
  if (!kind.letta && kind.redirect) {
    return [
      { name: 'Letta reachable', ok: true, detail: kind.detail },
      { name: 'Letta URL', ok: false, detail: `HTTP ${kind.redirect} redirect: credentials are never sent after a redirect`, fix: 'set lettaUrl (--letta-url) to the final URL' },
    ];
  }
  // Anything but Letta's health answer (a 404 from a wrong port, a web page) is not Letta: its 404s say nothing.
  if (!kind.letta) {
    return [{ name: 'Letta reachable', ok: false, detail: kind.detail, fix: kind.reached ? 'point --letta-url (lettaUrl) at the Letta server (default port 8283)' : 'start the Letta server or fix lettaUrl (--letta-url)' }];
  }
  const out: Check[] = [{ name: 'Letta reachable', ok: true, detail: kind.guarded ? `${o.baseUrl} answered with a password required` : `Letta ${kind.version} at ${o.baseUrl}` }];
  const agents = await probe(o, '/v1/agents/?limit=1');
  const authOk = agents.status !== 401 && agents.status !== 403;
  out.push({
    name: 'Letta auth',
    ok: authOk,
    detail: authOk ? `accepted (${o.password ? 'Bearer password' : 'no password'}${o.userId ? `, user_id ${o.userId}` : ''})` : `HTTP ${agents.status}: ${agents.detail}`,
    fix: authOk ? undefined : 'export the server password in the env var named by lettaPasswordEnv (default LETTA_SERVER_PASSWORD)',
  });
  out.push(modeCheck(ctx.config.serverMode, kind.endpoint, kind.detail));
  return out;
}

/** Pure: the recorded server mode against the endpoint found. Stock mode works on either server. */
export function modeCheck(mode: ServerMode, endpoint: Endpoint, detail: string): Check {
  if (mode === 'stock') {
    return { name: 'server mode', ok: true, detail: `stock: external commits are pushed through Letta's /v1/git/ (sync endpoint ${endpoint})` };
  }
  const ok = endpoint === 'present';
  if (endpoint === 'unknown') return { name: 'sync endpoint', ok: false, detail: `${detail}: Letta did not answer the probe`, fix: 'check that Letta is up and not overloaded, then run doctor --server again' };
  return {
    name: 'sync endpoint',
    ok,
    detail: ok ? `${detail} (server mode patched)` : `${detail}; stock mode is what fits this server`,
    fix: ok
      ? undefined
      : `Letta without the endpoint: apply the server patch (${selfCommand()} patch-server --apply <site-packages>) and restart Letta, or re-run ${selfCommand()} init --server --mode stock and run ${selfCommand()} serve behind LETTA_MEMFS_SERVICE_URL`,
  };
}

/**
 * Stock mode (or Letta without the endpoint): whether `serve` answers behind Letta's /v1/git/, asked through the
 * proxy for one agent repo (a read-only info/refs).
 */
export async function checkService(ctx: ServerContext, kind: LettaKind, repos: readonly AgentRepo[]): Promise<Check[]> {
  if (repos.length === 0 || !kind.letta || (ctx.config.serverMode !== 'stock' && kind.endpoint === 'present')) return [];
  const { answer, detail } = await probeService(ctx.letta, repos[0].agentId);
  const fixes: Record<Exclude<ServiceAnswer, 'answers'>, string> = {
    'not-configured': `set LETTA_MEMFS_SERVICE_URL=http://<host>:<port>/<secret> in Letta's environment, pointing at ${selfCommand()} serve, and restart Letta`,
    unreachable: `start ${selfCommand()} serve (with LETTA_MEMFS_SERVICE_SECRET) at the address in Letta's LETTA_MEMFS_SERVICE_URL`,
    refused: `check that LETTA_MEMFS_SERVICE_URL ends with serve's secret prefix and that the Letta actor (lettaUserId) can access ${repos[0].agentId}`,
  };
  return [
    {
      name: "serve behind Letta's /v1/git/",
      ok: answer === 'answers',
      detail: answer === 'answers' ? `answers for ${repos[0].agentId}` : `${answer} (${detail})`,
      fix: answer === 'answers' ? undefined : fixes[answer],
    },
  ];
}

/** The external remote answers `ls-remote` with the configured credentials (a sample of agents: it is network). */
export async function checkRemotes(ctx: ServerContext, repos: readonly AgentRepo[], sample: number): Promise<Check[]> {
  return mapLimit(repos.slice(0, sample), 4, async (repo) => {
    const settings = await readSettings(stateDirOf(repo.gitDir)).catch(() => undefined);
    if (!settings?.remote) return { name: `remote ${repo.agentId}`, ok: false, detail: 'not set up', fix: `run ${selfCommand()} init --server` };
    const r = await lsRemoteMain(repo.gitDir, settings.remote, ctx.config);
    return {
      name: `remote ${repo.agentId}`,
      ok: r.ok,
      detail: r.ok ? `${settings.remote} reachable${r.oid ? '' : ' (empty: pull seeds it)'}` : `${settings.remote}: ${r.error}`,
      fix: r.ok ? undefined : (r.fix ?? `check the URL, network and token (${ctx.config.gitTokenEnv} or gitTokenFile)`),
    };
  });
}

/** Hooks installed and executable, remote and gc.auto=0 configured, for every agent (files only). */
export async function checkRepos(ctx: ServerContext, repos: readonly AgentRepo[]): Promise<Check[]> {
  const bad: string[] = [];
  const gc: string[] = [];
  await mapLimit(repos, 32, async (repo) => {
    const s = await agentStatus(repo, ctx);
    if (s.hooks.missing.length || s.hooks.notExecutable.length || !s.remote) bad.push(repo.agentId);
    // Files only (no git per agent): our included file holds gc.auto=0, and repo.git/config must include it.
    const [main, ours] = await Promise.all([
      fs.readFile(path.join(repo.gitDir, 'config'), 'utf8').catch(() => ''),
      fs.readFile(path.join(repo.gitDir, INCLUDED_CONFIG), 'utf8').catch(() => ''),
    ]);
    if (!main.includes(INCLUDED_CONFIG) || !/^\s*auto = 0$/m.test(ours)) gc.push(repo.agentId);
  });
  return [
    {
      name: 'hooks installed',
      ok: bad.length === 0 && repos.length > 0,
      detail: repos.length === 0 ? 'no agent repos found' : bad.length ? `${bad.length} of ${repos.length} agents lack hooks or the remote: ${bad.slice(0, 3).join(', ')}${bad.length > 3 ? ', ...' : ''}` : `all ${repos.length} agents`,
      fix: bad.length || repos.length === 0 ? `run ${selfCommand()} init --server (watch also sets up new agents)` : undefined,
    },
    {
      name: 'gc.auto=0',
      ok: gc.length === 0,
      detail: gc.length ? `${gc.length} agents without it: an auto gc in Letta's temp copy can hide new commits` : 'set everywhere',
      fix: gc.length ? `run ${selfCommand()} init --server` : undefined,
    },
  ];
}

