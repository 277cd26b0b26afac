import { UserError } from '../../core/errors.js';

// Placeholder until the sync command lands.
export async function run(_argv: string[]): Promise<number> {
  throw new UserError('sync is not implemented yet');
}
