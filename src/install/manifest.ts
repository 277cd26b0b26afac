import path from 'node:path';
import type { Role } from '../core/settings.js';
import { readJson, writeJsonAtomic } from '../core/settings.js';
import type { ConfigChange } from '../git/config.js';

/** What `init` did to a repo: enough for `uninstall` to restore every hook file and config key. */
export interface Manifest {
  version: 1;
  role: Role;
  hooksDir: string;
  /** Hook names whose file we wrote; a foreign original, if any, sits in `chained/<name>`. */
  hooks: string[];
  /** Whether we created hooksDir (then uninstall removes it when it is empty again). */
  createdHooksDir: boolean;
  configFile: string;
  configChanges: ConfigChange[];
  /** sha256 of the config file right after our last write; if it still matches, uninstall restores `config.orig`. */
  configAfterInstall?: string;
  /** The installed hook runtime the hooks run (install/runtime.ts); absent for installs made before there was one. */
  runtime?: string;
}

export const manifestPath = (stateDir: string) => path.join(stateDir, 'install.json');

/**
 * The manifest's paths are stored relative to the repo's common dir (the state dir's parent) and read back
 * absolute: a repo whose volume is mounted elsewhere (a copied memfs root, a restored backup) is acted on where it
 * is, never at the path init ran on. Manifests written with absolute paths still read the same.
 */
const PATH_KEYS = ['hooksDir', 'configFile', 'runtime'] as const;

function mapPaths(m: Manifest, f: (p: string) => string): Manifest {
  const out = { ...m };
  for (const k of PATH_KEYS) if (out[k] !== undefined) out[k] = f(out[k]!);
  return out;
}

export async function readManifest(stateDir: string): Promise<Manifest | undefined> {
  const m = await readJson<Manifest>(manifestPath(stateDir));
  const commonDir = path.dirname(path.resolve(stateDir));
  return m && mapPaths(m, (p) => path.resolve(commonDir, p));
}

export function writeManifest(stateDir: string, m: Manifest): Promise<void> {
  const commonDir = path.dirname(path.resolve(stateDir));
  return writeJsonAtomic(manifestPath(stateDir), mapPaths(m, (p) => path.relative(commonDir, path.resolve(p)) || '.'));
}
