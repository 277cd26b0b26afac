/**
 * The rules for every setting value that can reach git config, a git URL match, an HTTP header, a shell-quoted helper
 * or a path: one place, used by the config schema for every source (files, environment, flags, prompts) on both roles,
 * and by the git config writer as a last guard. Error messages never repeat a refused value: a user who pastes the
 * token into the wrong option must not see it echoed into a terminal, a log or CI output.
 */
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../errors.js';

/** Usage errors (a value given on the command line, in the environment or a config file) exit 2. */
export const USAGE = 2;

// C0 and C1 controls (newline, CR, NUL, ESC...), DEL, and the invisible and bidi-override characters that make a
// value print as something else. git's config parser ends a line at a newline and stops at NUL; a header value with
// CR/LF splits the request.
const UNSAFE_CHAR = /[\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;

export function unsafeCharIn(value: string): string | undefined {
  const m = UNSAFE_CHAR.exec(value);
  if (!m) return undefined;
  const c = m[0].charCodeAt(0);
  const name = c === 10 ? 'a newline' : c === 13 ? 'a carriage return' : c === 0 ? 'a NUL byte' : c === 9 ? 'a tab' : `U+${c.toString(16).padStart(4, '0').toUpperCase()}`;
  return `${name} at position ${m.index + 1}`;
}

/** Refuses control and invisible characters in any value; `what` names the setting and its source, never the value. */
export function checkNoUnsafeChars(value: string, what: string, fix: string): void {
  const found = unsafeCharIn(value);
  if (found) throw new UserError(`${what} contains ${found}`, fix, USAGE);
}

// POSIX names for variables set by users (upper case, digits, underscore). Lower case is refused on purpose: a pasted
// token (ghp_..., hex) is almost always mixed or lower case, so it fails here instead of being used as a name.
const ENV_NAME = /^[A-Z_][A-Z0-9_]{0,127}$/;

export function checkEnvName(value: string, key: string, source: string): void {
  if (!ENV_NAME.test(value)) {
    throw new UserError(
      `${source}: ${key} is not an environment variable name (the value is not shown: it may be a secret)`,
      `give the NAME of the variable that holds the secret (upper-case letters, digits, _), e.g. LETTA_MEMFS_GIT_TOKEN, and export the secret in it`,
      USAGE,
    );
  }
}

// Basic auth is `user:password` (RFC 7617): no colon; no space or quote, which would need quoting in git and shells.
const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$/;

export function checkUserName(value: string, source: string): void {
  if (!USER_NAME.test(value)) {
    throw new UserError(
      `${source}: gitUsername may hold only letters, digits and . _ @ + - (no ":" or spaces)`,
      'pass the user name your host expects with the token, e.g. --git-user git (GitHub: x-access-token, GitLab: oauth2)',
      USAGE,
    );
  }
}

// Letta ids and actor ids are `<prefix>-<uuid>` (letta/schemas/user.py @ 0.16.7); sent as the user_id header.
const ACTOR_ID = /^[A-Za-z0-9_-]{1,128}$/;

export function checkActorId(value: string, source: string): void {
  if (!ACTOR_ID.test(value)) {
    throw new UserError(`${source}: lettaUserId must be a Letta user id such as user-<uuid>`, 'copy the id from Letta (letters, digits, - and _ only)', USAGE);
  }
}

// http(s)://host[:port][/path]: a host name or IPv4 address, an optional port, a plain path. No user info (a password
// in a config file), no query or fragment, no quotes, backslashes, brackets, spaces or wildcards.
const HTTP_URL = /^https?:\/\/([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)(:\d{1,5})?(\/[A-Za-z0-9._~%/+-]*)?$/i;

export function hasUserInfo(url: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(url);
}

export function checkHttpUrl(value: string, key: string, source: string, example: string): void {
  checkNoUnsafeChars(value, `${source}: ${key}`, `set ${key} to a plain URL, e.g. ${example}`);
  if (hasUserInfo(value)) {
    throw new UserError(`${source}: ${key} carries credentials`, `remove user and password from the URL, e.g. ${example}; secrets go in env vars named by the config`, USAGE);
  }
  if (!HTTP_URL.test(value) || /%(?![0-9a-f]{2})/i.test(value)) {
    throw new UserError(`${source}: ${key} must be an http(s) URL: host, optional port and path, nothing else`, `e.g. ${example}`, USAGE);
  }
}

/**
 * A path setting (token file, memfs root) as an absolute path, the same on both roles: `~/x` is expanded here, so the
 * server's credential helper (which runs `cat` on it, src/server/repo/remote-auth.ts) and the client read one file.
 * A relative path is relative to `baseDir` (the config file's directory, or the working directory for flags).
 */
export function normalizePath(value: string, key: string, source: string, baseDir: string, home = os.homedir()): string {
  checkNoUnsafeChars(value, `${source}: ${key}`, `give ${key} as a plain absolute path`);
  if (value === '~' || value.startsWith('~/')) return path.join(home, value.slice(1));
  if (value.startsWith('~')) {
    throw new UserError(`${source}: ${key} uses ~user, which is not expanded`, `give ${key} as an absolute path or ~/...`, USAGE);
  }
  if (!value) throw new UserError(`${source}: ${key} is empty`, `give ${key} as an absolute path`, USAGE);
  return path.resolve(baseDir, value);
}

/**
 * Prints a key name from untrusted input only when it looks like one: no escapes, and short (our longest key has 19
 * characters; a token pasted as a key has 20 or more).
 */
export function printableKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.-]{0,19}$/.test(key) ? `"${key}"` : 'a key (not shown)';
}
