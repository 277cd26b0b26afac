/** The memfs service's secret path prefix: from the environment or a 0600 file, never from argv. */
import { UserError } from '../../core/errors.js';
import { readSecretFile } from '../../core/secret-file.js';
import { SECRET_PATTERN } from './route.js';

export const SECRET_ENV = 'LETTA_MEMFS_SERVICE_SECRET';

const FIX_SHAPE = `make one with: openssl rand -hex 32 (24-256 characters of A-Z a-z 0-9 . _ ~ -)`;

export async function loadServiceSecret(env: NodeJS.ProcessEnv, file: string | undefined): Promise<string> {
  const fromEnv = env[SECRET_ENV];
  if (fromEnv && file) throw new UserError(`both ${SECRET_ENV} and --secret-file are set`, 'keep only one of them', 2);
  let secret: string;
  if (file) {
    secret = readSecretFile(file, { name: `--secret-file ${file}`, fix: 'pass a regular file (not a symlink, FIFO or directory) readable by this user only', noSymlink: true });
  } else if (fromEnv) {
    secret = fromEnv.trim();
  } else {
    throw new UserError(`no secret: set ${SECRET_ENV} or pass --secret-file <file>`, FIX_SHAPE, 2);
  }
  // The value itself is never echoed, not even in this error.
  if (!SECRET_PATTERN.test(secret)) throw new UserError(`the service secret has the wrong shape`, FIX_SHAPE, 2);
  return secret;
}
