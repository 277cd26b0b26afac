// What the bundle in dist/runtime is built from, as one hash: every file under src/, the build scripts, and what picks
// the bundled dependencies (package.json, the lock). scripts/build-runtime.mjs writes it next to the bundle when it
// finishes; test/runtime-setup.ts rebuilds when it differs, so no test runs a bundle older than src/ (issue 21).
// The stamp sits beside dist/runtime, not in it: the package ships dist/runtime whole.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const STAMP = path.join(ROOT, 'dist', 'runtime.inputs');

const FILES = ['scripts/build-runtime.mjs', 'scripts/runtime-inputs.mjs', 'package.json', 'package-lock.json', 'tsconfig.json'];

function walk(rel, out) {
  for (const e of fs.readdirSync(path.join(ROOT, rel), { withFileTypes: true })) {
    const r = path.posix.join(rel, e.name);
    if (e.isDirectory()) walk(r, out);
    else out.push(r);
  }
  return out;
}

/** sha256 over the names and contents of the bundle's inputs (~140 files: a few ms). */
export function inputsHash() {
  const h = createHash('sha256');
  for (const rel of [...walk('src', []).sort(), ...FILES]) {
    const p = path.join(ROOT, rel);
    const body = fs.existsSync(p) ? fs.readFileSync(p) : Buffer.alloc(0);
    h.update(`${rel}\0${body.length}\0`).update(body);
  }
  return h.digest('hex');
}

/** Whether dist/runtime was built from exactly the inputs there are now. */
export function bundleFresh() {
  try {
    return fs.readFileSync(STAMP, 'utf8').trim() === inputsHash();
  } catch {
    return false;
  }
}
