import path from 'node:path';
import type { Config } from '../../core/config/schema.js';
import { selectAgents } from '../../server/repo/discover.js';
import { planServerInit } from '../../server/setup/init-plan.js';
import { EXIT } from '../exit-codes.js';
import { printJson } from '../json.js';
import type { ModeChoice } from '../../server/setup/server-mode.js';

/** `init --server --dry-run`: the plan from the pure planner; reads the memfs root, writes nothing. */
export async function printServerPlan(config: Config, agents: string[] | undefined, configFile: string, mode: ModeChoice, json = false): Promise<number> {
  const root = path.resolve(config.memfsRoot!);
  const repos = await selectAgents(root, agents?.length ? agents : config.agents.length ? config.agents : 'all');
  const lines = planServerInit(repos, config.remote!, configFile, root);
  lines.push(mode.mode ? `record server mode ${mode.mode} (${mode.why})` : 'server mode: detected from Letta at the real run (--mode stock|patched decides it now)');
  if (json) {
    printJson({ dryRun: true, memfsRoot: root, agents: repos.map((r) => r.agentId), would: lines });
    return EXIT.ok;
  }
  process.stdout.write(`dry run: init --server would set up ${repos.length} agent repo(s) under ${root}\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
  return EXIT.ok;
}
