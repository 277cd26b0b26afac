// Prepares the one letta version this run is for: the cached venv (scripts/e2e/letta-venv.sh) and a patched
// copy of its letta/ package made with our own `patch-server --apply`. Anything missing fails the run with
// the reason; nothing is skipped.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { REPO_ROOT, lettaVersion } from './helpers/env.js';

function sh(cmd: string, args: string[], what: string): string {
  try {
    return execFileSync(cmd, args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  } catch (err) {
    throw new Error(`e2e setup: ${what} failed: ${(err as Error).message.split('\n')[0]}`);
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const version = lettaVersion();
  if (!existsSync(join(REPO_ROOT, 'dist', 'cli', 'main.js'))) {
    throw new Error('e2e setup: dist/cli/main.js is missing (fix: npm run build, or use npm run test:e2e which builds first)');
  }
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
  const venvOut = sh('bash', [join(REPO_ROOT, 'scripts/e2e/letta-venv.sh'), version], `installing letta ${version}`);
  const venv = venvOut.trim().split('\n').pop()!;
  const installMs = Date.now() - t0;

  const libDir = join(venv, 'lib');
  const pyDir = readdirSync(libDir).find((d) => d.startsWith('python3'));
  if (!pyDir) throw new Error(`e2e setup: no lib/python3.* in ${venv}`);
  const sitePackages = join(libDir, pyDir, 'site-packages');

  // The venv itself stays unpatched (the "unpatched server" tests run it as installed). The patched server
  // runs with PYTHONPATH=<venv>/patched, a fresh copy of letta/ patched by the command under test.
  const patched = join(venv, 'patched');
  rmSync(patched, { recursive: true, force: true });
  mkdirSync(patched, { recursive: true });
  cpSync(join(sitePackages, 'letta'), join(patched, 'letta'), { recursive: true });
  // With its dist-info, so patch-server reads the real version (letta/__init__.py @ 0.16.8 still says 0.16.7).
  cpSync(join(sitePackages, `letta-${version}.dist-info`), join(patched, `letta-${version}.dist-info`), { recursive: true });
  const out = sh('node', [join(REPO_ROOT, 'dist/cli/main.js'), 'patch-server', '--apply', patched], 'patch-server --apply on the patched copy');
  if (!/applied 3 patch\(es\)/.test(out)) throw new Error(`e2e setup: patch-server --apply did not apply the set: ${out}`);

  process.stderr.write(`e2e setup: letta ${version} venv ready in ${(installMs / 1000).toFixed(1)}s (${venv})\n`);
  project.provide('lettaVenv', venv);
  project.provide('lettaSitePackages', sitePackages);
  project.provide('lettaPatched', patched);
}

declare module 'vitest' {
  export interface ProvidedContext {
    lettaVenv: string;
    lettaSitePackages: string;
    lettaPatched: string;
  }
}
