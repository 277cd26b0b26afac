import type { Config } from './config/schema.js';
import { UserError } from './errors.js';
import { addSecret } from './log.js';
import { readSecretFile } from './secret-file.js';

// The external git host's token, read the same way by both roles and registered so that no log line can print it.

export interface TokenSource {
  token: string;
  /** Where it came from, for messages: `$VAR` or a file path; never the token. */
  source: string;
}

/** Reads the token from `config.gitTokenEnv`, else from `config.gitTokenFile`, refusing a file others can read. */
export async function readToken(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<TokenSource | undefined> {
  const fromEnv = env[config.gitTokenEnv];
  if (fromEnv && fromEnv.trim()) {
    addSecret(fromEnv.trim());
    return { token: fromEnv.trim(), source: `$${config.gitTokenEnv}` };
  }
  if (!config.gitTokenFile) return undefined;
  // Absolute already: the config schema expands ~/ and relative paths the same way for both roles.
  const token = readTokenFile(config.gitTokenFile);
  addSecret(token);
  return { token, source: config.gitTokenFile };
}

const TOKEN_FILE_FIX = 'write the token into a chmod 600 file (umask 077; printf %s "$TOKEN" > ~/.config/letta-memfs-hooks/token) and pass its path, or unset gitTokenFile';

/**
 * The token in gitTokenFile, refused at once unless it is a small private regular file holding one line. A missing
 * file is not named: a token pasted as --token-file would be printed.
 */
export function readTokenFile(file: string): string {
  let token: string;
  try {
    token = readSecretFile(file, { name: `gitTokenFile ${file}`, fix: TOKEN_FILE_FIX });
  } catch (err) {
    if (err instanceof UserError && / does not exist$/.test(err.message)) {
      throw new UserError('the token file named by gitTokenFile (--token-file) does not exist (path not shown: it may be a pasted token)', TOKEN_FILE_FIX);
    }
    throw err;
  }
  if (!token || /\s/.test(token)) throw new UserError(`gitTokenFile ${file} must hold just the token on one line`, `rewrite ${file} with only the token`);
  return token;
}

/** `Basic base64(user:token)`: the Authorization value git hosts (Gitea, GitHub, GitLab) accept for HTTPS with a token. */
export function basicAuth(user: string, token: string): string {
  return `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;
}
