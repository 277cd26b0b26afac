import { spawn } from 'node:child_process';
import { formatError } from '../../core/errors.js';
import { logLine } from '../../core/log.js';
import { entryPath } from '../../core/package.js';
import type { HookContext } from '../../hooks/context.js';
import { contextFromRepo } from '../setup/context.js';
import { syncAgent } from './sync.js';

/**
 * Server-role reference-transaction, post-merge and post-checkout: main moved in repo.git (the shim has already
 * checked that for reference-transaction and post-checkout). Delivers the sync in a detached background process so
 * that git never waits on the network, unless `syncBlocking`. Always exits 0: git cannot act on a failed sync,
 * which stays pending for the next hook, `watch` or `sync --pending`.
 */
export async function onMainMoved(ctx: HookContext): Promise<number> {
  const gitDir = ctx.repo.commonDir;
  try {
    if (ctx.settings.config.syncBlocking) {
      const { ctx: server, repo } = await contextFromRepo(gitDir);
      const o = await syncAgent(repo, server.letta, { waitMs: server.letta.timeoutMs * (server.letta.retries + 1) });
      if (o.action === 'failed') logLine(`${ctx.hook}: sync of ${repo.agentId} failed, stays pending: ${o.error}`);
      return 0;
    }
    const child = spawn(process.execPath, [entryPath('cli'), 'sync', '--git-dir', gitDir, '--quiet'], {
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, GIT_DIR: undefined, GIT_INDEX_FILE: undefined, GIT_WORK_TREE: undefined },
    });
    child.on('error', (err) => logLine(`${ctx.hook}: cannot start the background sync: ${formatError(err)}`));
    child.unref();
  } catch (err) {
    logLine(`${ctx.hook}: ${formatError(err)}`);
  }
  return 0;
}
