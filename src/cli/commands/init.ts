import { UserError } from '../../core/errors.js';

// Placeholder until the init command lands.
export async function run(_argv: string[]): Promise<number> {
  throw new UserError('init is not implemented yet');
}
