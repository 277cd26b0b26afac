import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Where this code runs from. Every layout sits two levels below the package root, so one rule finds it:
//   esbuild bundle  <root>/dist/runtime/chunk-*.mjs    (the packed package's bin, and each installed hook runtime)
//   source          <root>/src/core/package.ts         (tests import src/ modules through vitest)
//   tsc output      <root>/dist/core/package.js        (only the benches and the schema build use it)
const HERE = path.dirname(fileURLToPath(import.meta.url));

export const PACKAGE_ROOT = path.resolve(HERE, '..', '..');

export type Entry = 'cli' | 'hook' | 'poke-after-push' | 'background-push';

/**
 * Absolute path of an entry point (the CLI, the hook runner, the poke waiter, the local backend's background push):
 * always the bundle's, whatever layout asks, so every process a test starts runs what users run
 * (test/runtime-setup.ts keeps the bundle fresh against src/).
 */
export function entryPath(name: Entry): string {
  return path.join(PACKAGE_ROOT, 'dist', 'runtime', `${name}.mjs`);
}

let version: string | undefined;
/** The package version, from the package.json at the root (the packed package and each runtime copy have one). */
export function packageVersion(): string {
  version ??= (JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  return version;
}
