// Global setup of both vitest configs. Tests run what users run: the esbuild bundle in dist/runtime (the package's bin
// and every installed hook), never the tsc output. It is rebuilt here when src/ or the build scripts changed since it
// was built (scripts/runtime-inputs.mjs: one hash, a few ms; a rebuild ~2 s), so a single-file `npx vitest run <file>`
// cannot pass on stale code. Runtimes that `init` installs go to a data dir of this run, never to the user's
// ~/.local/share, removed at the end.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { bundleFresh, ROOT } from '../scripts/runtime-inputs.mjs';

export default function setup(project: TestProject): () => void {
  if (!bundleFresh()) {
    const t0 = Date.now();
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-runtime.mjs')], { stdio: 'inherit' });
    console.log(`runtime-setup: dist/runtime was older than src/, rebuilt in ${Date.now() - t0} ms`);
  }
  const dataHome = project.config.env.XDG_DATA_HOME;
  return () => {
    if (dataHome) fs.rmSync(dataHome, { recursive: true, force: true });
  };
}
