import { UserError } from '../../core/errors.js';

// Placeholder until the patch-server command lands.
export async function run(_argv: string[]): Promise<number> {
  throw new UserError('patch-server is not implemented yet');
}
