/**
 * The external host's HTTPS credentials on a client checkout.
 *
 * Why not a credential helper: Letta Code >= 0.24.5 runs every memfs git call with
 * `-c credential.helper= -c core.askPass=` and GIT_TERMINAL_PROMPT=0 (letta-code src/agent/memory-git.ts @ v0.30.28,
 * see `runGit`). git 2.39 treats an empty `credential.helper` on the command line as "reset the helper list", and
 * that list includes URL-scoped `credential.<url>.helper` entries from .git/config, so a helper of ours would never
 * run for Letta Code's own pull and push (checked by test/client/client.test.ts against git itself).
 *
 * What survives: `http.<external-url>.extraHeader`. Letta Code's `-c http.extraHeader=Authorization: Basic <letta
 * key>` is unscoped; git's urlmatch applies a later, less specific key only if no more specific one was seen
 * (urlmatch.c), and an empty value resets the headers gathered so far (git-config(1), http.extraHeader). So with an
 * empty value scoped to the external host in .git/config, and an empty value plus our header scoped to the external
 * repo URL in the include, git sends our header to the host and never the Letta key, whatever the order
 * (checked against git in test/client/client.test.ts).
 *
 * The header carries the token, so it lives in a separate 0600 file that .git/config pulls in with
 * `includeIf.gitdir:<common dir>.path`; .git/config itself only gets the URL rewrite, the reset and the include.
 * The file is written by `init` from the env var or token file; after rotating the token, re-run `init`.
 *
 * It also sets `followRedirects = false` for the URL: with git's default (`initial`) a redirected ref advertisement
 * moves the operation's later requests to the other host, and git sends them our header (curl only drops it on
 * the redirect itself) [ran: test/hostile/redirects.test.ts]. A moved repo then fails with git's "returned error:
 * 30x"; the fix is the final URL in --remote.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../core/fs.js';
import { selfCommand } from '../core/self-command.js';
import { basicAuth } from '../core/token.js';
import { quoteConfigString } from '../git/config.js';

/** The `Authorization:` header line git sends with `http.extraHeader` (core/token.ts basicAuth). */
export function authHeader(user: string, token: string): string {
  return `Authorization: ${basicAuth(user, token)}`;
}

/**
 * Pure: the auth include file. First the URL-scoped reset (so that whatever order git reads files in, this file
 * leaves exactly one header for the external URL), then our header.
 */
export function renderAuthFile(externalUrl: string, header: string, source: string): string {
  if (/[\n\r]/.test(header) || /[\n\r]/.test(externalUrl)) throw new Error('newline in auth header or URL');
  return [
    `# letta-memfs-hooks: HTTPS auth for the agent's external git host, from ${source}.`,
    `# Kept out of .git/config on purpose (mode 0600); re-run \`${selfCommand()} init\` after rotating the token.`,
    `[http ${quoteConfigString(externalUrl)}]`,
    '\textraHeader =',
    `\textraHeader = ${header}`,
    '\tfollowRedirects = false',
    '',
  ].join('\n');
}

export const AUTH_FILE = 'http-auth.gitconfig';

/** Writes the file 0600 from the start (never briefly world-readable), atomically. */
export async function writeAuthFile(stateDir: string, content: string): Promise<string> {
  await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const file = path.join(stateDir, AUTH_FILE);
  await writeFileAtomic(file, content, 0o600);
  return file;
}

/** The header recorded in an auth file, or undefined; used by `status` to tell whether the token changed since init. */
export async function readAuthHeader(file: string): Promise<string | undefined> {
  const text = await fs.readFile(file, 'utf8').catch(() => undefined);
  const m = text ? /^\textraHeader = (Authorization: .+)$/m.exec(text) : null;
  return m ? m[1] : undefined;
}
