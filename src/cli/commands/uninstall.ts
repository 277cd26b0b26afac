import { UserError } from '../../core/errors.js';

// Placeholder until the uninstall command lands.
export async function run(_argv: string[]): Promise<number> {
  throw new UserError('uninstall is not implemented yet');
}
