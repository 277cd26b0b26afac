import fs from 'node:fs/promises';
import type { Config } from './config/schema.js';
import { UserError } from './errors.js';
import { addSecret } from './log.js';

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
  const file = config.gitTokenFile;
  let st;
  try {
    st = await fs.stat(file);
  } catch {
    // The path is not printed: a token pasted as --token-file would be.
    throw new UserError(
      'the token file named by gitTokenFile (--token-file) does not exist (path not shown: it may be a pasted token)',
      'write the token into a chmod 600 file (umask 077; printf %s "$TOKEN" > ~/.config/letta-memfs-hooks/token) and pass its path, or unset gitTokenFile',
    );
  }
  if ((st.mode & 0o077) !== 0) {
    throw new UserError(`gitTokenFile ${file} is readable by others (mode ${(st.mode & 0o777).toString(8)})`, `chmod 600 ${file}`);
  }
  const token = (await fs.readFile(file, 'utf8')).trim();
  if (!token || /\s/.test(token)) {
    throw new UserError(`gitTokenFile ${file} must hold just the token on one line`, `rewrite ${file} with only the token`);
  }
  addSecret(token);
  return { token, source: file };
}
