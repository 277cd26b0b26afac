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

export const readManifest = (stateDir: string) => readJson<Manifest>(manifestPath(stateDir));

export const writeManifest = (stateDir: string, m: Manifest) => writeJsonAtomic(manifestPath(stateDir), m);
