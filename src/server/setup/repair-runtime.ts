import { formatError } from '../../core/errors.js';
import { mapLimit } from '../../core/map-limit.js';
import { selfCommand } from '../../core/self-command.js';
import { stateDirOf } from '../../core/settings.js';
import { readManifest } from '../../install/manifest.js';
import { forgetRuntimes, runtimeIntact } from '../../install/runtime.js';
import type { AgentRepo } from '../repo/discover.js';
import type { ServerContext } from './context.js';
import type { Check } from './doctor.js';
import { initAgent } from './init-server.js';

/**
 * `doctor`'s repair: agents whose hooks run a hook runtime that is gone or incomplete (deleted by hand, a volume
 * restored without it) get this package's runtime and fresh hooks, as `init --server` would give them. Their hooks
 * were skipping every sync until then.
 */
export async function repairRuntimes(ctx: ServerContext, repos: readonly AgentRepo[]): Promise<Check> {
  const broken: AgentRepo[] = [];
  const seen = new Map<string, Promise<boolean>>();
  await mapLimit(repos, 32, async (repo) => {
    const dir = (await readManifest(stateDirOf(repo.gitDir)).catch(() => undefined))?.runtime;
    if (!dir) return;
    if (!seen.has(dir)) seen.set(dir, runtimeIntact(dir));
    if (!(await seen.get(dir))) broken.push(repo);
  });
  if (broken.length === 0) return { name: 'hook runtime', ok: true, detail: `${seen.size} runtime(s) intact` };
  const failed: string[] = [];
  forgetRuntimes();
  await mapLimit(broken, 8, async (repo) => {
    await initAgent(repo, ctx.config).catch((err: unknown) => failed.push(`${repo.agentId}: ${formatError(err)}`));
  });
  return failed.length === 0
    ? { name: 'hook runtime', ok: true, detail: `repaired: ${broken.length} agent(s) ran a missing hook runtime; reinstalled it and their hooks` }
    : { name: 'hook runtime', ok: false, detail: `missing for ${failed.length} agent(s), repair failed: ${failed[0]}`, fix: `run ${selfCommand()} init --server` };
}
