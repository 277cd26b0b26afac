import fs from 'node:fs/promises';
import path from 'node:path';
import type { Role } from '../core/settings.js';
import { shQuote } from '../core/shell.js';
import { hookEntryOf } from './runtime.js';

const MARKER = '# letta-memfs-hooks managed hook';

// Hooks that git feeds on stdin (githooks(5)); the shim must capture it to hand it to both hooks.
const STDIN_HOOKS = new Set(['pre-push', 'reference-transaction', 'post-rewrite', 'pre-receive', 'post-receive']);

export interface ShimOptions {
  hook: string;
  role: Role;
  node: string;
  /** The installed hook runtime (install/runtime.ts) the hook runs, and whose shim.sh template it is made from. */
  runtimeDir: string;
  stateDir: string;
  /** The command that reaches the install that ran init, for the hooks' "fix: re-run ... init" messages. */
  self: string;
}

/** Pure: fills the `hooks/shim.sh` template. */
export function fillShim(template: string, o: ShimOptions): string {
  const values: Record<string, string> = {
    '@NODE@': shQuote(o.node),
    '@ENTRY@': shQuote(hookEntryOf(o.runtimeDir)),
    '@SELF@': shQuote(o.self),
    '@STATE@': shQuote(o.stateDir),
    '@HOOK@': o.hook,
    '@ROLE@': o.role,
    '@STDIN@': STDIN_HOOKS.has(o.hook) ? '1' : "''",
  };
  return template.replace(/@(NODE|ENTRY|SELF|STATE|HOOK|ROLE|STDIN)@/g, (m) => values[m]);
}

export async function renderShim(o: ShimOptions): Promise<string> {
  return fillShim(await fs.readFile(path.join(o.runtimeDir, 'hooks', 'shim.sh'), 'utf8'), o);
}

export function isOurShim(content: string): boolean {
  return content.includes(MARKER);
}
