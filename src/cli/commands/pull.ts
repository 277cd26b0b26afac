import { UserError } from '../../core/errors.js';

// Placeholder until the pull command lands.
export async function run(_argv: string[]): Promise<number> {
  throw new UserError('pull is not implemented yet');
}
