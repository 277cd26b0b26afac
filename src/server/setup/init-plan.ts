import path from 'node:path';
import { renderRemote } from '../../core/template.js';
import type { AgentRepo } from '../repo/discover.js';
import { INCLUDED_CONFIG, SERVER_HOOKS } from './init-server.js';

/** Pure: what `init --server` would write, one line per change, for `--dry-run`. */
export function planServerInit(repos: readonly AgentRepo[], remoteTemplate: string, configFile: string, memfsRoot: string): string[] {
  const lines = repos.map(
    (r) => `${r.agentId}: remote ${renderRemote(remoteTemplate, r.agentId)}, ${INCLUDED_CONFIG} (gc.auto=0), hooks ${SERVER_HOOKS.join(', ')} in ${path.join(r.gitDir, 'hooks')}`,
  );
  lines.push(`record the settings in ${configFile}`, `remember ${memfsRoot} as the memfs root for later commands`);
  return lines;
}
