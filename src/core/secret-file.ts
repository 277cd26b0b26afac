/**
 * Reads a small secret file (the host token, serve's secret), refusing at once whatever is not one: a FIFO (opened
 * with O_NONBLOCK, so a missing writer never stalls us), a directory or device, a file others can read, one too
 * large to be a secret, and a symlink when asked. The checks are on the opened descriptor (fstat), so the file
 * judged is the file read. Errors never show the content; the caller's label decides whether the path is shown.
 */
import fs from 'node:fs';
import { UserError } from './errors.js';

/** Far above any token or secret we accept (GitHub fine-grained PATs are ~93 characters). */
export const MAX_SECRET_FILE_BYTES = 4096;

export interface SecretFileLabel {
  /** How messages name the file, e.g. `gitTokenFile /path` or `the token file named by gitTokenFile`. */
  name: string;
  /** The fix when the file is missing or not a regular file. */
  fix: string;
  /** Refuse a symlink (serve's secret); the token file may be one (a mounted secret), its target is what is checked. */
  noSymlink?: boolean;
}

export function readSecretFile(file: string, label: SecretFileLabel): string {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | (label.noSymlink ? fs.constants.O_NOFOLLOW : 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const why = code === 'ENOENT' ? 'does not exist' : code === 'ELOOP' ? 'is a symlink' : `cannot be opened (${code})`;
    throw new UserError(`${label.name} ${why}`, label.fix);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      const kind = st.isFIFO() ? 'a FIFO' : st.isDirectory() ? 'a directory' : st.isSocket() ? 'a socket' : 'a device';
      throw new UserError(`${label.name} is ${kind}, not a regular file`, label.fix);
    }
    if ((st.mode & 0o077) !== 0) throw new UserError(`${label.name} is readable by others (mode ${(st.mode & 0o777).toString(8)})`, `chmod 600 ${label.name.split(' ').pop()}`);
    if (st.size > MAX_SECRET_FILE_BYTES) throw new UserError(`${label.name} is ${st.size} bytes, too large to hold just a secret`, label.fix);
    const buf = Buffer.alloc(MAX_SECRET_FILE_BYTES + 1);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    // Grown since fstat: still too large.
    if (n > MAX_SECRET_FILE_BYTES) throw new UserError(`${label.name} is too large to hold just a secret`, label.fix);
    return buf.subarray(0, n).toString('utf8').trim();
  } finally {
    fs.closeSync(fd);
  }
}
