/** The memfs service's secret path prefix: from the environment or a 0600 file, never from argv. */
import { open } from 'node:fs/promises';
import { constants } from 'node:fs';
import { UserError } from '../../core/errors.js';
import { SECRET_PATTERN } from './route.js';

export const SECRET_ENV = 'LETTA_MEMFS_SERVICE_SECRET';

const FIX_SHAPE = `make one with: openssl rand -hex 32 (24-256 characters of A-Z a-z 0-9 . _ ~ -)`;

export async function loadServiceSecret(env: NodeJS.ProcessEnv, file: string | undefined): Promise<string> {
  const fromEnv = env[SECRET_ENV];
  if (fromEnv && file) throw new UserError(`both ${SECRET_ENV} and --secret-file are set`, 'keep only one of them', 2);
  let secret: string;
  if (file) {
    // O_NOFOLLOW and fstat on the opened file: the mode we check is the mode of the file we read.
    let fh;
    try {
      fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      throw new UserError(`cannot read --secret-file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, 'pass a regular file (not a symlink) readable by this user');
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new UserError(`--secret-file ${file} is not a regular file`, 'pass a regular file');
      if ((st.mode & 0o077) !== 0) {
        throw new UserError(`--secret-file ${file} is readable by others (mode ${(st.mode & 0o777).toString(8)})`, `chmod 600 ${file}`);
      }
      secret = (await fh.readFile('utf8')).trim();
    } finally {
      await fh.close();
    }
  } else if (fromEnv) {
    secret = fromEnv.trim();
  } else {
    throw new UserError(`no secret: set ${SECRET_ENV} or pass --secret-file <file>`, FIX_SHAPE, 2);
  }
  // The value itself is never echoed, not even in this error.
  if (!SECRET_PATTERN.test(secret)) throw new UserError(`the service secret has the wrong shape`, FIX_SHAPE, 2);
  return secret;
}
