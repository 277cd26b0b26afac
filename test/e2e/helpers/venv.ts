// The letta install the e2e suite and the bench run against: the cached venv (scripts/e2e/letta-venv.sh), left
// unpatched, and a fresh copy of its letta/ package patched by our own `patch-server --apply`.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CLI } from './cli.js';
import { REPO_ROOT } from './env.js';

export interface LettaInstall {
  version: string;
  venv: string;
  sitePackages: string;
  /** Put first on PYTHONPATH to run the patched server. */
  patched: string;
  installMs: number;
}

function sh(cmd: string, args: string[], what: string): string {
  try {
    return execFileSync(cmd, args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  } catch (err) {
    throw new Error(`e2e setup: ${what} failed: ${(err as Error).message.split('\n')[0]}`);
  }
}

export function prepareLetta(version: string): LettaInstall {
  if (!existsSync(CLI)) throw new Error(`e2e setup: ${CLI} is missing (fix: run through vitest, whose set-up builds it, or npm run build)`);
  for (const [cmd, fix] of [
    ['git', 'apt-get install git'],
    ['patch', 'apt-get install patch'],
  ] as const) {
    try {
      execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    } catch {
      throw new Error(`e2e setup: ${cmd} is not installed (fix: ${fix})`);
    }
  }

  const t0 = Date.now();
  const venv = sh('bash', [join(REPO_ROOT, 'scripts/e2e/letta-venv.sh'), version], `installing letta ${version}`).trim().split('\n').pop()!;
  const installMs = Date.now() - t0;

  const libDir = join(venv, 'lib');
  const pyDir = readdirSync(libDir).find((d) => d.startsWith('python3'));
  if (!pyDir) throw new Error(`e2e setup: no lib/python3.* in ${venv}`);
  const sitePackages = join(libDir, pyDir, 'site-packages');

  const patched = join(venv, 'patched');
  rmSync(patched, { recursive: true, force: true });
  mkdirSync(patched, { recursive: true });
  cpSync(join(sitePackages, 'letta'), join(patched, 'letta'), { recursive: true });
  // With its dist-info, so patch-server reads the real version (letta/__init__.py @ 0.16.8 still says 0.16.7).
  cpSync(join(sitePackages, `letta-${version}.dist-info`), join(patched, `letta-${version}.dist-info`), { recursive: true });
  const out = sh('node', [CLI, 'patch-server', '--apply', patched], 'patch-server --apply on the patched copy');
  if (!/applied 3 patch\(es\)/.test(out)) throw new Error(`e2e setup: patch-server --apply did not apply the set: ${out}`);
  return { version, venv, sitePackages, patched, installMs };
}
