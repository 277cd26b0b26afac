/**
 * Opt-in creation of an agent's repo on its host (config `createRepos`), wherever a missing repo is met: client
 * `init` (and `--all`), `init --server`, `watch`'s new agents and `serve`'s mirror (through the pull's fetch).
 * Idempotent: a repo that exists, or that another machine creates meanwhile, is success. Private unless
 * `createPublic`. One HTTP request when the repo is there (GET), three when it is created (GET repo, owner, POST).
 * The token goes in a header only, to the API of the remote's own host or hostApiUrl; no redirect is followed.
 */
import type { Config } from '../config/schema.js';
import { UserError } from '../errors.js';
import { readToken, type TokenSource } from '../token.js';
import { call } from './api.js';
import { alreadyExists, type ApiAnswer, apiError } from './errors.js';
import { HOST_NAMES, type HostRepoTarget, hostRepoTarget } from './target.js';

export type EnsureOutcome = 'exists' | 'created';
export const DESCRIPTION = 'Letta agent memory (letta-memfs-hooks)';

const enc = encodeURIComponent;

/** The repo's own resource: 200 when it exists (and the token sees it), 404 when not. */
function repoPath(t: HostRepoTarget): string {
  return t.kind === 'gitlab' ? `/projects/${enc(t.fullName)}` : `/repos/${enc(t.owner)}/${enc(t.name)}`;
}

/** The create call: GitHub and Gitea by whether the owner is the token's user or an organization; GitLab by namespace id. */
async function create(t: HostRepoTarget, tok: TokenSource, visibility: 'private' | 'public'): Promise<ApiAnswer> {
  if (t.kind === 'gitlab') {
    const ns = await call(t, tok, 'GET', `/namespaces/${enc(t.owner)}`);
    const id = (ns.json as { id?: unknown } | undefined)?.id;
    if (ns.status !== 200 || typeof id !== 'number') {
      if (ns.status === 404) throw new UserError(`GitLab namespace ${t.owner} does not exist or the token from ${tok.source} cannot see it`, 'create the group, or fix the namespace in the remote URL; the token needs the api scope');
      throw apiError(t, ns, 'look up the namespace of', tok.source);
    }
    return call(t, tok, 'POST', '/projects', { name: t.name, path: t.name, namespace_id: id, visibility, description: DESCRIPTION, initialize_with_readme: false });
  }
  const me = await call(t, tok, 'GET', '/user');
  const login = (me.json as { login?: unknown } | undefined)?.login;
  if (me.status !== 200 || typeof login !== 'string') throw apiError(t, me, 'find the user that would own', tok.source);
  const where = login.toLowerCase() === t.owner.toLowerCase() ? '/user/repos' : `/orgs/${enc(t.owner)}/repos`;
  const body = { name: t.name, description: DESCRIPTION, private: visibility === 'private', auto_init: false };
  return call(t, tok, 'POST', where, t.kind === 'gitea' ? { ...body, default_branch: 'main' } : body);
}

/** Makes sure the repo a rendered remote URL names exists on the host, creating it (private) when it does not. */
/** `token`: one already read (client init may have asked for it), else the configured credential source. */
export async function ensureHostRepo(remoteUrl: string, config: Config, env: NodeJS.ProcessEnv = process.env, token?: TokenSource): Promise<{ outcome: EnsureOutcome; target: HostRepoTarget }> {
  if (!config.createRepos) throw new Error('ensureHostRepo without createRepos');
  const target = hostRepoTarget(remoteUrl, config.createRepos, config.hostApiUrl);
  const tok = token ?? (await readToken(config, env));
  if (!tok) {
    throw new UserError(`createRepos needs the ${HOST_NAMES[target.kind]} token to create ${target.fullName}`, `export ${config.gitTokenEnv}=<token> (or set gitTokenFile to a chmod 600 file)`);
  }
  const seen = await call(target, tok, 'GET', repoPath(target));
  if (seen.status === 200) return { outcome: 'exists', target };
  if (seen.status !== 404) throw apiError(target, seen, 'read', tok.source);
  const made = await create(target, tok, config.createPublic ? 'public' : 'private');
  if (made.status === 201) return { outcome: 'created', target };
  if (alreadyExists(target.kind, made)) return { outcome: 'exists', target };
  throw apiError(target, made, 'create', tok.source);
}
