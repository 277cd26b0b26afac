import { UserError } from '../../core/errors.js';

// Placeholder until the status command lands.
export async function run(_argv: string[]): Promise<number> {
  throw new UserError('status is not implemented yet');
}
