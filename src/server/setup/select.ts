import { UserError } from '../../core/errors.js';
import type { ServerContext } from './context.js';
import { type AgentRepo, selectAgents } from '../repo/discover.js';
import { selfCommand } from '../../core/self-command.js';

/** `--agent <id>` (repeatable) or `--all`: exactly one of them. */
export async function agentsFromFlags(ctx: ServerContext, agent: string[] | undefined, all: boolean | undefined, command: string): Promise<AgentRepo[]> {
  if ((agent?.length ?? 0) > 0 === Boolean(all)) {
    throw new UserError(`${command} needs --agent <id> or --all (not both)`, `run ${selfCommand()} ${command} --help`, 2);
  }
  return selectAgents(ctx.memfsRoot, all ? 'all' : agent!);
}
