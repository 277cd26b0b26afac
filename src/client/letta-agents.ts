/**
 * The server agents with git memory, for `init --all` on a new machine: Letta's REST list
 * (`GET /v1/agents/?tags=git-memory-enabled`, paged by `after`; the tag is what turns memfs on per agent: facts file,
 * section 1). Authenticated as Letta Code is (LETTA_API_KEY) or with the configured server password, as Bearer.
 * A Letta that is not running here is no error: a machine with only local agents has none.
 */
import { isAgentId, isLocalAgentId } from '../core/agent-id.js';
import type { Config } from '../core/config/schema.js';
import { UserError } from '../core/errors.js';
import { httpRequest } from '../core/http/client.js';
import { addSecret } from '../core/log.js';

const PAGE = 100;
const MAX_PAGES = 100;

export async function listLettaGitAgents(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const key = env[config.lettaPasswordEnv] || env.LETTA_API_KEY || undefined;
  addSecret(key);
  const headers: Record<string, string> = { accept: 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...(config.lettaUserId ? { user_id: config.lettaUserId } : {}) };
  const ids: string[] = [];
  let after: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const q = `tags=git-memory-enabled&limit=${PAGE}${after ? `&after=${encodeURIComponent(after)}` : ''}`;
    let res;
    try {
      res = await httpRequest(`${config.lettaUrl}/v1/agents/?${q}`, { method: 'GET', headers, timeoutMs: 30_000 });
    } catch (err) {
      if ((err as { code?: string }).code === 'ECONNREFUSED') return ids;
      throw new UserError(`cannot list Letta's agents at ${config.lettaUrl} (${(err as { code?: string }).code ?? 'error'})`, 'check --letta-url, or ignore this if this machine uses local agents only');
    }
    if (res.status === 401 || res.status === 403) {
      throw new UserError(`Letta at ${config.lettaUrl} refused to list agents (HTTP ${res.status})`, `export LETTA_API_KEY (or $${config.lettaPasswordEnv}) for that server`);
    }
    let list: unknown;
    try {
      list = JSON.parse(res.body.toString('utf8'));
    } catch {
      list = undefined;
    }
    if (res.status !== 200 || !Array.isArray(list)) throw new UserError(`Letta at ${config.lettaUrl} answered HTTP ${res.status} to the agent list`, 'check --letta-url');
    const got = list.map((a) => (a as { id?: unknown }).id).filter((id): id is string => typeof id === 'string' && isAgentId(id) && !isLocalAgentId(id));
    ids.push(...got);
    if (list.length < PAGE || got.length === 0) break;
    after = got[got.length - 1];
  }
  return [...new Set(ids)].sort();
}
