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
import { PAGE_SIZE, pageThrough } from '../core/http/paged.js';
import { addSecret } from '../core/log.js';

const MAX_PAGES = 100;

export async function listLettaGitAgents(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const key = env[config.lettaPasswordEnv] || env.LETTA_API_KEY || undefined;
  addSecret(key);
  const headers: Record<string, string> = { accept: 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...(config.lettaUserId ? { user_id: config.lettaUserId } : {}) };
  const fetchPage = async (after: string | undefined): Promise<unknown[]> => {
    const q = `tags=git-memory-enabled&limit=${PAGE_SIZE}${after ? `&after=${encodeURIComponent(after)}` : ''}`;
    const res = await httpRequest(`${config.lettaUrl}/v1/agents/?${q}`, { method: 'GET', headers, timeoutMs: 30_000 });
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
    return list;
  };
  let agents: Record<string, unknown>[];
  try {
    agents = await pageThrough(fetchPage, MAX_PAGES);
  } catch (err) {
    if (err instanceof UserError) throw err;
    if ((err as { code?: string }).code === 'ECONNREFUSED') return [];
    throw new UserError(`cannot list Letta's agents at ${config.lettaUrl} (${(err as { code?: string }).code ?? 'error'})`, 'check --letta-url, or ignore this if this machine uses local agents only');
  }
  const ids = agents.map((a) => a.id).filter((id): id is string => typeof id === 'string' && isAgentId(id) && !isLocalAgentId(id));
  return [...new Set(ids)].sort();
}
