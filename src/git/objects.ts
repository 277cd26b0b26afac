/**
 * Reading a repo's trees and blobs for validation, bounded: names as bytes, blob sizes before any content, and blob
 * content streamed with a cap so that a huge object is never buffered. Implements tree.ts's BlobReader.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { type BlobReader, decodeName, MalformedTree, parseLsTree, parseTreeObject, type RawTreeEntry, type TreeEntry } from './tree.js';
import { cleanGitEnv, gitBytes, GitError, type GitOptions } from './git.js';

const SLASH = Buffer.from('/');
const withDir = (opts: GitOptions, args: string[]) => (opts.gitDir ? [`--git-dir=${opts.gitDir}`, ...args] : args);

/** `git ls-tree -r -z --full-tree <rev>`, read as bytes (a name need not be UTF-8). */
export async function lsTree(rev: string, opts: GitOptions = {}): Promise<TreeEntry[]> {
  const args = ['ls-tree', '-r', '-z', '--full-tree', rev];
  return parseLsTree(await gitBytes(args, opts));
}

type Reply = { oid: string; type: string; size: number; content?: Buffer } | undefined;

/**
 * Largest tree object read. Not MAX_FILE_BYTES: a tree is git's own listing (~40 bytes an entry), and this bound only
 * keeps memory finite.
 */
const MAX_TREE_BYTES = 64 * 1024 * 1024;

/**
 * One `git cat-file --batch-command` (git >= 2.36) for every object question of a validation: commit existence, blob
 * sizes, then contents; each git process costs a hook ~9 ms of CPU (issue 9). A content is kept only up to
 * `maxBytes`: a larger object fails the read (callers ask only for blobs whose size they checked), so memory stays
 * bounded by the sizes asked for. close() ends git; the reader must be closed.
 */
export class ObjectReader implements BlobReader {
  private child?: ChildProcessWithoutNullStreams;
  private pending: Buffer = Buffer.alloc(0);
  private waiting: { content: boolean; maxBytes: number; resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  private stderr = '';
  private failed?: Error;

  constructor(private readonly maxBytes: number, private readonly opts: GitOptions = {}) {}

  /** Whether `rev` names a commit in the repo. */
  async hasCommit(rev: string): Promise<boolean> {
    return (await this.ask('info', [`${rev}^{commit}`]))[0]?.type === 'commit';
  }

  /** Size in bytes of each blob present (no content read); objects git lacks are left out. */
  async sizes(oids: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const r of await this.ask('info', oids)) if (r?.type === 'blob') out.set(r.oid, r.size);
    return out;
  }

  async read(oids: readonly string[]): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    for (const r of await this.ask('contents', oids)) if (r?.content) out.set(r.oid, r.content);
    return out;
  }

  /**
   * `git ls-tree -r --full-tree <rev>` read through this process: trees fetched a level at a time, entries in git's
   * order. Throws MalformedTree, with git's message, where ls-tree would fail.
   */
  async lsTree(rev: string): Promise<TreeEntry[]> {
    const [root] = await this.ask('contents', [`${rev}^{tree}`], MAX_TREE_BYTES);
    if (root?.type !== 'tree' || !root.content) throw new MalformedTree(`not a tree object: ${rev}`);
    const hashBytes = root.oid.length / 2;
    const trees = new Map<string, RawTreeEntry[]>([[root.oid, parseTreeObject(root.content, hashBytes)]]);
    for (let level = [root.oid]; level.length > 0; ) {
      const next = [...new Set(level.flatMap((oid) => trees.get(oid)!.filter((e) => e.type === 'tree' && !trees.has(e.oid)).map((e) => e.oid)))];
      const replies = await this.ask('contents', next, MAX_TREE_BYTES);
      next.forEach((oid, i) => {
        const r = replies[i];
        if (r?.type !== 'tree' || !r.content) throw new MalformedTree(`not a tree object: ${oid}`);
        trees.set(oid, parseTreeObject(r.content, hashBytes));
      });
      level = next;
    }
    const out: TreeEntry[] = [];
    const walk = (oid: string, prefix: Buffer) => {
      for (const e of trees.get(oid)!) {
        const name = prefix.length ? Buffer.concat([prefix, SLASH, e.name]) : e.name;
        if (e.type === 'tree') walk(e.oid, name);
        else out.push({ mode: e.mode, type: e.type, oid: e.oid, path: decodeName(name) });
      }
    };
    walk(root.oid, Buffer.alloc(0));
    return out;
  }

  close(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.on('close', () => resolve());
      child.stdin.end();
    });
  }

  private ask(command: 'info' | 'contents', names: readonly string[], maxBytes = this.maxBytes): Promise<Reply[]> {
    // A newline would be a second command: names come from git's own output or our checked refs, never with one.
    if (names.some((n) => /[\n\r]/.test(n))) return Promise.reject(new Error('object name with a line break'));
    const child = this.start();
    const replies = names.map((_) => new Promise<Reply>((resolve, reject) => this.waiting.push({ content: command === 'contents', maxBytes, resolve, reject })));
    if (this.failed) this.fail(this.failed);
    else child.stdin.write(names.map((n) => `${command} ${n}\n`).join(''));
    return Promise.all(replies);
  }

  private start(): ChildProcessWithoutNullStreams {
    if (this.child) return this.child;
    const args = ['cat-file', '--batch-command'];
    const child = spawn('git', withDir(this.opts, args), { cwd: this.opts.cwd, env: { ...process.env, ...cleanGitEnv(this.opts.env) } as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString('utf8')).slice(-4096)));
    child.stdout.on('data', (chunk: Buffer) => this.take(chunk));
    child.on('error', (e) => this.fail(e));
    child.on('close', (code) => this.fail(new GitError(args, { stdout: '', stderr: this.stderr || `git exited with ${code}`, exitCode: code ?? 1 })));
    child.stdin.on('error', () => undefined);
    this.child = child;
    return child;
  }

  private fail(e: Error): void {
    this.failed ??= e;
    for (const w of this.waiting.splice(0)) w.reject(this.failed);
    this.child?.kill('SIGKILL');
  }

  /** Replies in order: `<oid> <type> <size>` (then, for contents, the object and one LF), or `<name> missing`. */
  private take(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.waiting.length > 0 && !this.failed) {
      const nl = this.pending.indexOf(0x0a);
      if (nl < 0) return;
      const [oid, type, sizeText] = this.pending.subarray(0, nl).toString('latin1').split(' ');
      const size = Number(sizeText);
      const w = this.waiting[0];
      if (sizeText === undefined) {
        this.pending = this.pending.subarray(nl + 1);
        this.waiting.shift()!.resolve(undefined);
        continue;
      }
      if (!w.content) {
        this.pending = this.pending.subarray(nl + 1);
        this.waiting.shift()!.resolve({ oid, type, size });
        continue;
      }
      if (size > w.maxBytes) return this.fail(new Error(`object ${oid} is ${size} bytes, over the ${w.maxBytes} byte read cap`));
      // Content, then one LF; wait until all of it is here (at most maxBytes, checked above).
      if (this.pending.length < nl + 1 + size + 1) return;
      const content = Buffer.from(this.pending.subarray(nl + 1, nl + 1 + size));
      this.pending = this.pending.subarray(nl + 1 + size + 1);
      this.waiting.shift()!.resolve({ oid, type, size, content });
    }
  }
}
