/**
 * Reading a repo's trees and blobs for validation, bounded: names as bytes, blob sizes before any content, and blob
 * content streamed with a cap so that a huge object is never buffered. Implements validate/tree.ts's BlobReader.
 */
import { spawn } from 'node:child_process';
import type { BlobReader, TreeEntry } from '../validate/tree.js';
import { parseLsTree } from '../validate/tree.js';
import { cleanGitEnv, git, gitBytes, GitError, type GitOptions } from './git.js';

const withDir = (opts: GitOptions, args: string[]) => (opts.gitDir ? [`--git-dir=${opts.gitDir}`, ...args] : args);

/** `git ls-tree -r -z --full-tree <rev>`, read as bytes (a name need not be UTF-8). */
export async function lsTree(rev: string, opts: GitOptions = {}): Promise<TreeEntry[]> {
  const args = ['ls-tree', '-r', '-z', '--full-tree', rev];
  return parseLsTree(await gitBytes(args, opts));
}

/** Blob sizes from one `git cat-file --batch-check` (no content read); objects git lacks are left out. */
export async function blobSizes(oids: readonly string[], opts: GitOptions = {}): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (oids.length === 0) return out;
  const r = await git(['cat-file', '--batch-check'], { ...opts, input: oids.join('\n') + '\n' });
  for (const line of r.stdout.split('\n')) {
    const [oid, type, size] = line.split(' ');
    if (type === 'blob') out.set(oid, Number(size));
  }
  return out;
}

/**
 * Blob contents from one streamed `git cat-file --batch`. Each object is kept only up to `maxBytes`: a larger one
 * fails the read (callers ask only for blobs whose size they checked), so memory stays bounded by the sizes asked for.
 */
export function readBlobsBounded(oids: readonly string[], maxBytes: number, opts: GitOptions = {}): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  if (oids.length === 0) return Promise.resolve(out);
  const args = ['cat-file', '--batch'];
  return new Promise((resolve, reject) => {
    const child = spawn('git', withDir(opts, args), { cwd: opts.cwd, env: { ...process.env, ...cleanGitEnv(opts.env) } as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let pending: Buffer = Buffer.alloc(0);
    let current: { oid: string; size: number; parts: Buffer[]; got: number } | undefined;
    let stderr = '';
    let failed: Error | undefined;
    const fail = (e: Error) => {
      failed ??= e;
      child.kill('SIGKILL');
    };
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-4096)));
    child.stdout.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (!failed) {
        if (!current) {
          const nl = pending.indexOf(0x0a);
          if (nl < 0) return;
          const [oid, type, size] = pending.subarray(0, nl).toString('latin1').split(' ');
          pending = pending.subarray(nl + 1);
          if (type === 'missing') continue;
          if (Number(size) > maxBytes) return fail(new Error(`object ${oid} is ${size} bytes, over the ${maxBytes} byte read cap`));
          current = { oid, size: Number(size), parts: [], got: 0 };
        }
        // Content, then one LF.
        const take = Math.min(current.size - current.got, pending.length);
        if (take > 0) current.parts.push(pending.subarray(0, take));
        current.got += take;
        pending = pending.subarray(take);
        if (current.got < current.size || pending.length === 0) return;
        out.set(current.oid, Buffer.concat(current.parts));
        pending = pending.subarray(1);
        current = undefined;
      }
    });
    child.on('error', fail);
    child.on('close', (code) => {
      if (failed) reject(failed);
      else if (code !== 0) reject(new GitError(args, { stdout: '', stderr, exitCode: code ?? 1 }));
      else resolve(out);
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(oids.join('\n') + '\n');
  });
}

/** The BlobReader validateUpdate uses, over one repo. */
export function repoBlobReader(maxBytes: number, opts: GitOptions = {}): BlobReader {
  return { sizes: (oids) => blobSizes(oids, opts), read: (oids) => readBlobsBounded(oids, maxBytes, opts) };
}
