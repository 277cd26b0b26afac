import { UserError } from '../../core/errors.js';

// Placeholder until the watch command lands.
export async function run(_argv: string[]): Promise<number> {
  throw new UserError('watch is not implemented yet');
}
