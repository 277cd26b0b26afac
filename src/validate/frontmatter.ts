/**
 * Frontmatter rules (frontmatter-rules.ts) with the full `yaml` parser behind the strict one: for callers that may
 * load yaml up front (the CLI, a server, tests). The pre-push hook imports this module only when it needs yaml.
 */
import { parse } from 'yaml';
import type { Problem } from './problem.js';
import { checkFrontmatterWith, type Frontmatter, parseFrontmatterWith } from './frontmatter-rules.js';
import { parseSimpleMapping } from './simple-yaml.js';

export { isCheckedMemoryFile } from './frontmatter-rules.js';

/** The strict parser where it suffices, else the `yaml` package. */
export const parseYaml = (text: string): unknown => parseSimpleMapping(text) ?? parse(text);

export function parseFrontmatter(text: string): Frontmatter {
  return parseFrontmatterWith(text, parseYaml);
}

export function checkFrontmatter(path: string, text: string, base: string | null | undefined): Problem[] {
  return checkFrontmatterWith(path, text, base, parseYaml);
}
