import fs from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import { EXIT } from './exit-codes.js';

/** `--repo <dir>` (default: the current directory), which must be an existing directory (else exit 1: the path is well-formed, just not there). */
export async function repoDirFlag(dir: string | undefined): Promise<string> {
  const abs = path.resolve(dir ?? process.cwd());
  const st = await fs.stat(abs).catch(() => undefined);
  if (!st) throw new UserError(`${abs} does not exist`, 'pass the agent memory checkout with --repo <dir>', EXIT.failed);
  if (!st.isDirectory()) throw new UserError(`${abs} is not a directory`, 'pass the agent memory checkout with --repo <dir>', EXIT.failed);
  return abs;
}
