/** The one way this module talks to a host's REST API: the token in the header each host expects, JSON both ways. */
import { UserError } from '../errors.js';
import { httpRequest } from '../http/client.js';
import type { TokenSource } from '../token.js';
import type { ApiAnswer } from './errors.js';
import { HOST_NAMES, type HostRepoTarget } from './target.js';

function authHeaders(t: HostRepoTarget, token: string): Record<string, string> {
  if (t.kind === 'github') return { authorization: `Bearer ${token}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' };
  if (t.kind === 'gitea') return { authorization: `token ${token}`, accept: 'application/json' };
  return { authorization: `Bearer ${token}`, accept: 'application/json' };
}

export async function call(t: HostRepoTarget, tok: TokenSource, method: 'GET' | 'POST', pathname: string, body?: object): Promise<ApiAnswer> {
  const headers: Record<string, string> = { 'user-agent': 'letta-memfs-hooks', ...authHeaders(t, tok.token) };
  if (body) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await httpRequest(t.api + pathname, { method, headers, body: body ? Buffer.from(JSON.stringify(body)) : undefined, timeoutMs: 30_000, maxBodyBytes: 8 << 20 });
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'error';
    throw new UserError(`cannot reach the ${HOST_NAMES[t.kind]} API at ${t.api} (${code})`, 'check that the host is up and reachable, or set hostApiUrl to its API base');
  }
  let json: unknown;
  try {
    json = res.body.length ? JSON.parse(res.body.toString('utf8')) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, header: res.header, json };
}

