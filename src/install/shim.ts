import fs from 'node:fs';
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
    '@RUNTIME@': shQuote(o.runtimeDir),
    '@SELF@': shQuote(o.self),
    '@STATE@': shQuote(o.stateDir),
    '@HOOK@': o.hook,
    '@ROLE@': o.role,
    '@STDIN@': STDIN_HOOKS.has(o.hook) ? '1' : "''",
  };
  return template.replace(/@(NODE|ENTRY|RUNTIME|SELF|STATE|HOOK|ROLE|STDIN)@/g, (m) => values[m]);
}

/**
 * A runtime's shim template with its guard (dist/runtime/guard.cjs, see src/cli/hooks/guard.ts) embedded: the hook
 * file carries the code that checks the runtime, so the runtime never vouches for itself. Read at install, from a
 * runtime ensureRuntime has just found trusted.
 */
export function readShimTemplate(runtimeDir: string): string {
  const guard = fs.readFileSync(path.join(runtimeDir, 'dist', 'runtime', 'guard.cjs'), 'utf8').trim();
  // A function, not a string: `$` sequences in the quoted guard are not replacement patterns.
  return fs.readFileSync(path.join(runtimeDir, 'hooks', 'shim.sh'), 'utf8').replace('@GUARD@', () => shQuote(guard));
}

export function renderShim(o: ShimOptions): string {
  return fillShim(readShimTemplate(o.runtimeDir), o);
}

export function isOurShim(content: string): boolean {
  return content.includes(MARKER);
}
