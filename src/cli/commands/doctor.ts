import { UserError } from '../../core/errors.js';

// Placeholder until the doctor command lands.
export async function run(_argv: string[]): Promise<number> {
  throw new UserError('doctor is not implemented yet');
}
