// Prepares the one letta version this run is for (helpers/venv.ts). Anything missing fails the run with the
// reason; nothing is skipped.
import type { TestProject } from 'vitest/node';
import { lettaVersion } from './helpers/env.js';
import { prepareLetta } from './helpers/venv.js';

export default async function setup(project: TestProject): Promise<void> {
  const install = prepareLetta(lettaVersion());
  process.stderr.write(`e2e setup: letta ${install.version} venv ready in ${(install.installMs / 1000).toFixed(1)}s (${install.venv})\n`);
  project.provide('lettaVenv', install.venv);
  project.provide('lettaSitePackages', install.sitePackages);
  project.provide('lettaPatched', install.patched);
}

declare module 'vitest' {
  export interface ProvidedContext {
    lettaVenv: string;
    lettaSitePackages: string;
    lettaPatched: string;
  }
}
