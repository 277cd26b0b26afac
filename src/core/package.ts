import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Where this code runs from. Two layouts share one depth, so one rule finds the package root in both:
//   tsc output      <root>/dist/core/package.js        (the source tree: tests and development)
//   esbuild bundle  <root>/dist/runtime/chunk-*.mjs    (the packed package's bin, and each installed hook runtime)
const HERE = path.dirname(fileURLToPath(import.meta.url));

export const PACKAGE_ROOT = path.resolve(HERE, '..', '..');

/** Running from the bundle (scripts/build-runtime.mjs), where every entry sits next to this chunk. */
export const BUNDLED = path.basename(HERE) === 'runtime';

const TSC_ENTRIES = {
  cli: 'cli/main.js',
  hook: 'cli/hooks/run.js',
  'poke-after-push': 'client/poke-after-push.js',
  'pre-receive': 'server/memfs-service/pre-receive-main.js',
  'background-push': 'client/background-push-run.js',
} as const;
export type Entry = keyof typeof TSC_ENTRIES;

/** Absolute path of an entry point of the running layout (the CLI, the hook runner, the poke waiter, the service's pre-receive, the local backend's background push). */
export function entryPath(name: Entry): string {
  return BUNDLED ? path.join(HERE, `${name}.mjs`) : path.join(PACKAGE_ROOT, 'dist', TSC_ENTRIES[name]);
}

let version: string | undefined;
/** The package version, from the package.json at the root (the packed package and each runtime copy have one). */
export function packageVersion(): string {
  version ??= (JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  return version;
}
