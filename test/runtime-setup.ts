// Global setup of both vitest configs. Installed hooks run the bundled runtime (scripts/build-runtime.mjs), not the
// tsc output, so it is rebuilt from src/ before every run (~1 s): a bare `npx tsc` would leave it stale. Runtimes
// that `init` installs go to a data dir of this run, never to the user's ~/.local/share, removed at the end.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export default function setup(project: TestProject): () => void {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-runtime.mjs')], { stdio: 'inherit' });
  const dataHome = project.config.env.XDG_DATA_HOME;
  return () => {
    if (dataHome) fs.rmSync(dataHome, { recursive: true, force: true });
  };
}
