import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../core/errors.js';

export interface LettaTree {
  /** The directory that contains `letta/` (a site-packages dir or a source checkout). */
  root: string;
  version: string;
  /** Where the version was read, for messages. */
  versionSource: string;
}

/**
 * Finds `letta/` under `dir` and reads the installed version.
 *
 * Order: a site-packages `letta-<v>.dist-info/METADATA` (what pip installed), a source checkout's
 * `pyproject.toml`, then the fallback literal in `letta/__init__.py` (`__version__ = "0.16.7"`, used when
 * importlib.metadata finds no distribution, letta/__init__.py @ 0.16.7). The `letta_client` package that
 * sits beside it in site-packages has its own dist-info and is not confused with it.
 */
export function detectLettaTree(dir: string): LettaTree {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new UserError(`${root} is not a directory`, 'pass a site-packages directory or a letta source checkout', 2);
  }
  if (!existsSync(join(root, 'letta', '__init__.py'))) {
    throw new UserError(`no letta/ package in ${root}`, 'pass the directory that contains letta/ (site-packages or a source checkout)', 2);
  }

  for (const entry of readdirSync(root)) {
    const m = /^letta-([^-]+)\.dist-info$/.exec(entry);
    if (!m) continue;
    const metadata = join(root, entry, 'METADATA');
    if (!existsSync(metadata)) continue;
    const text = readFileSync(metadata, 'utf8');
    const name = /^Name:\s*(.+)$/m.exec(text)?.[1]?.trim().toLowerCase();
    const version = /^Version:\s*(.+)$/m.exec(text)?.[1]?.trim();
    if (name === 'letta' && version) return { root, version, versionSource: `${entry}/METADATA` };
  }

  const pyproject = join(root, 'pyproject.toml');
  if (existsSync(pyproject)) {
    const text = readFileSync(pyproject, 'utf8');
    const project = /^\[project\]\s*$([\s\S]*?)(?=^\[|(?![\s\S]))/m.exec(text)?.[1] ?? '';
    if (/^name\s*=\s*"letta"\s*$/m.test(project)) {
      const version = /^version\s*=\s*"([^"]+)"\s*$/m.exec(project)?.[1];
      if (version) return { root, version, versionSource: 'pyproject.toml' };
    }
  }

  const init = readFileSync(join(root, 'letta', '__init__.py'), 'utf8');
  const literal = /^\s*__version__\s*=\s*"([^"]+)"\s*$/m.exec(init)?.[1];
  // Least reliable: letta/__init__.py @ 0.16.8 still has the literal "0.16.7" (harmless here, as both
  // versions take the same patch set), so a dist-info or pyproject.toml always wins.
  if (literal) return { root, version: literal, versionSource: 'letta/__init__.py' };

  throw new UserError(`cannot tell which letta version is in ${root}`, 'pass a pip-installed site-packages directory or a letta source checkout', 2);
}
