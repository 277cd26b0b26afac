import fs from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Config } from '../core/config/schema.js';
import { httpRequest } from '../core/http/client.js';
import { git } from './git.js';
import { basicAuth, readToken } from '../core/token.js';
import { remoteKind } from '../core/template.js';
import { MAIN, readRef } from './refs.js';
import { externalGitEnv } from './remote-auth.js';
import { sshProblem } from './ssh.js';

/**
 * Pure: the refs in a smart-HTTP v0 upload-pack advertisement (`GET info/refs?service=git-upload-pack`,
 * gitprotocol-http(5)): pkt-lines `<oid> <ref>[\0caps]`, after a `# service=` line and a flush.
 */
export function parseAdvertisement(body: Buffer): Map<string, string> {
  const refs = new Map<string, string>();
  let i = 0;
  while (i + 4 <= body.length) {
    const len = parseInt(body.subarray(i, i + 4).toString('ascii'), 16);
    if (Number.isNaN(len)) break;
    if (len === 0) {
      i += 4;
      continue;
    }
    const line = body.subarray(i + 4, i + len).toString('utf8').replace(/\n$/, '');
    i += len;
    const m = /^([0-9a-f]{40}) ([^\0]+)/.exec(line);
    if (m && !m[2].startsWith('capabilities^{}')) refs.set(m[2], m[1]);
  }
  return refs;
}

/** The Authorization value (`Basic base64(user:token)`) from the configured token; undefined without one. */
export async function configuredAuthorization(cfg: Config, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const t = await readToken(cfg, env);
  return t ? basicAuth(cfg.gitUsername, t.token) : undefined;
}

/**
 * The external main without starting git, so an idle `pull --all` over 1,000 agents (or a `daemon` round) costs one
 * HTTP request (on kept-alive connections) per agent instead of a `git fetch` process each. Returns the oid, null
 * when the remote has no main, or undefined when it cannot tell (ssh remotes, any error): then the caller fetches.
 * No redirect is followed: the token must not reach another host.
 */
export async function probeRemoteMain(url: string, authorization: string | undefined): Promise<string | null | undefined> {
  try {
    const kind = remoteKind(url);
    if (kind === 'file') {
      const dir = url.startsWith('file://') ? fileURLToPath(url) : url;
      await fs.access(dir);
      return (await readRef(dir, MAIN)) ?? null;
    }
    if (kind !== 'https') return undefined;
    const headers: Record<string, string> = { 'user-agent': 'git/2.39 letta-memfs-hooks', accept: 'application/x-git-upload-pack-advertisement' };
    if (authorization) headers.authorization = authorization;
    const res = await httpRequest(`${url.replace(/\/+$/, '')}/info/refs?service=git-upload-pack`, { method: 'GET', headers, timeoutMs: 15_000 });
    const type = res.header('content-type') ?? '';
    // A cut advertisement might lack main: then we cannot tell, and the caller fetches.
    if (res.status !== 200 || res.truncated || !type.startsWith('application/x-git-upload-pack-advertisement')) return undefined;
    return parseAdvertisement(res.body).get(MAIN) ?? null;
  } catch {
    return undefined;
  }
}

/**
 * `git ls-remote <url> refs/heads/main` with the external host's credentials, for `doctor` and `status --live`:
 * the oid (undefined when the remote has no main yet), or git's last error line (ssh's refusals with their fix).
 */
export async function lsRemoteMain(gitDir: string, url: string, cfg: Config): Promise<{ ok: true; oid?: string } | { ok: false; error: string; fix?: string }> {
  const r = await git(['ls-remote', url, MAIN], { gitDir, env: externalGitEnv(cfg, url), allowFailure: true, timeoutMs: 30_000 });
  const ssh = r.exitCode !== 0 ? sshProblem(r.stderr, url) : undefined;
  if (ssh) return { ok: false, error: ssh.reason, fix: ssh.fix };
  if (r.exitCode !== 0) return { ok: false, error: r.stderr.trim().split('\n').pop() ?? '' };
  return { ok: true, oid: r.stdout.split('\t')[0] || undefined };
}
