import type { Config } from '../core/config/schema.js';
import { checkEnvName } from '../core/config/values.js';
import { shQuote } from '../core/shell.js';

/** The remote `init --server` configures in each repo.git, and its remote-tracking ref. */
export const REMOTE_NAME = 'letta-memfs';
export const TRACKING_REF = `refs/remotes/${REMOTE_NAME}/main`;

/**
 * Environment for git calls that talk to the external host: credentials come from a credential helper that reads
 * the token from an env var (or the 0600 token file) at run time, so the token never appears in argv, in
 * repo.git/config (which the Letta server copies into every temp dir) or in a URL. Terminal prompts are off:
 * `watch` runs unattended.
 */
export function externalGitEnv(cfg: Config, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = { GIT_TERMINAL_PROMPT: '0' };
  // Settings written by an older init were not checked by the schema; the name goes into a shell snippet below.
  checkEnvName(cfg.gitTokenEnv, 'gitTokenEnv', 'settings');
  const hasToken = Boolean(env[cfg.gitTokenEnv]) || Boolean(cfg.gitTokenFile);
  if (!hasToken) return out;
  const user = cfg.gitUsername.replace(/[^A-Za-z0-9._@-]/g, '');
  const file = cfg.gitTokenFile ? shQuote(cfg.gitTokenFile) : '';
  // The helper answers only `get`; an empty first entry drops helpers configured elsewhere (a stale store).
  const source = env[cfg.gitTokenEnv] ? `"$${cfg.gitTokenEnv}"` : `"$(cat ${file})"`;
  const helper = `!f() { test "$1" = get || exit 0; echo username=${user}; printf 'password=%s\\n' ${source}; }; f`;
  // The helper reads the token from git's environment; hand it over when it came from a caller-given env.
  if (env[cfg.gitTokenEnv]) out[cfg.gitTokenEnv] = env[cfg.gitTokenEnv]!;
  Object.assign(out, {
    GIT_CONFIG_COUNT: '2',
    GIT_CONFIG_KEY_0: 'credential.helper',
    GIT_CONFIG_VALUE_0: '',
    GIT_CONFIG_KEY_1: 'credential.helper',
    GIT_CONFIG_VALUE_1: helper,
  });
  return out;
}
