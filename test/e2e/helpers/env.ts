import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const SUPPORTED = ['0.16.7', '0.16.8'];

/** The letta version this run tests (LETTA_VERSION, default 0.16.7). */
export function lettaVersion(): string {
  const v = process.env.LETTA_VERSION ?? '0.16.7';
  if (!SUPPORTED.includes(v)) throw new Error(`LETTA_VERSION=${v} is not one of ${SUPPORTED.join(', ')}`);
  return v;
}
