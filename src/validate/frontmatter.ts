/**
 * Frontmatter rules (frontmatter-rules.ts) with the full YAML 1.1 reader (yaml11.ts, as the server's PyYAML) behind the strict one: for callers that may
 * load yaml up front (the CLI, a server, tests). The pre-push hook imports this module only when it needs yaml.
 */
import { parseYaml11 } from './yaml11.js';
import type { Problem } from './problem.js';
import { checkFrontmatterWith, type Frontmatter, parseFrontmatterWith } from './frontmatter-rules.js';
import { parseSimpleMapping } from './simple-yaml.js';

export { isCheckedMemoryFile, serverSyncs } from './frontmatter-rules.js';

/** The strict parser where it suffices, else the YAML 1.1 reader (as the server's PyYAML). */
export const parseYaml = (text: string): unknown => parseSimpleMapping(text) ?? parseYaml11(text);

export function parseFrontmatter(text: string): Frontmatter {
  return parseFrontmatterWith(text, parseYaml);
}

export function checkFrontmatter(path: string, text: string, base: string | null | undefined): Problem[] {
  return checkFrontmatterWith(path, text, base, parseYaml);
}
