import type { Config } from '../core/config/schema.js';
import { checkEnvName } from '../core/config/values.js';
import { remoteKind } from '../core/template.js';
import { readTokenFile } from '../core/token.js';
import { NO_PROMPT_ENV } from './ssh.js';

/** The remote `init --server` configures in each repo.git, and its remote-tracking ref. */
export const REMOTE_NAME = 'letta-memfs';
export const TRACKING_REF = `refs/remotes/${REMOTE_NAME}/main`;

/** The variable the helper reads the token from when it came from gitTokenFile (read here, with its checks). */
const FILE_TOKEN_ENV = 'LETTA_MEMFS_FILE_TOKEN';

/**
 * Environment for git calls that talk to the external host at `url`. The token comes from a credential helper that
 * reads it from an env var at run time, so it never appears in argv, in repo.git/config (which the Letta server
 * copies into every temp dir) or in a URL. No prompts (ssh.ts): `watch` runs unattended. An ssh remote gets no
 * token at all (its keys and known_hosts are ssh's own, ssh.ts).
 *
 * The helper is scoped to the remote's URL (`credential.<url>.helper`): git asks helpers again for the host a
 * redirect leads to, and an unscoped helper answered it with our token [ran: test/hostile/redirects.test.ts]. And
 * `http.followRedirects=false`: with git's default `initial`, git moves every later request of the operation to
 * the redirected host, where a header-borne token (the client role's) goes with them [ran]; refusing redirects
 * keeps one policy for every role, and a moved repo fails with git's "returned error: 30x" (fix: the final URL).
 */
export function externalGitEnv(cfg: Config, url: string | undefined, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const config: [string, string][] = [['http.followRedirects', 'false']];
  const out: Record<string, string> = { ...NO_PROMPT_ENV };
  // Settings written by an older init were not checked by the schema; the name goes into a shell snippet below.
  checkEnvName(cfg.gitTokenEnv, 'gitTokenEnv', 'settings');
  const fromEnv = env[cfg.gitTokenEnv];
  const https = url !== undefined && remoteKind(url) === 'https';
  const token = https ? fromEnv || (cfg.gitTokenFile ? readTokenFile(cfg.gitTokenFile) : undefined) : undefined;
  if (token && url) {
    const user = cfg.gitUsername.replace(/[^A-Za-z0-9._@-]/g, '');
    const name = fromEnv ? cfg.gitTokenEnv : FILE_TOKEN_ENV;
    out[name] = token;
    // The helper answers only `get`. The unscoped empty entry drops helpers configured elsewhere (a stale store).
    const helper = `!f() { test "$1" = get || exit 0; echo username=${user}; printf 'password=%s\\n' "$${name}"; }; f`;
    config.push(['credential.helper', ''], [`credential.${url}.helper`, helper]);
  }
  out.GIT_CONFIG_COUNT = String(config.length);
  config.forEach(([k, v], i) => {
    out[`GIT_CONFIG_KEY_${i}`] = k;
    out[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  return out;
}
