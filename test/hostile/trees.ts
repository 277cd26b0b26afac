// Crafted git trees for the hostile suite: any name (bytes included), any mode, built with `git mktree` and
// `git hash-object -w`, which accept what `git add` never would.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import type { Sandbox } from '../client/env.js';

const run = promisify(execFile);

export type Name = string | Buffer;

export interface Item {
  /** Path components (each a name as git stores it; a Buffer for bytes that are not UTF-8). */
  path: Name[];
  content?: string | Buffer;
  /** Default 100644; 120000 makes `content` the link target, 160000 needs `oid`. */
  mode?: string;
  oid?: string;
}

function gitBytes(sb: Sandbox, cwd: string, args: string[], input?: Buffer): string {
  const r = spawnSync('git', args, { cwd, env: sb.env, input, maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.toString('utf8').trim();
}

export function hashBlob(sb: Sandbox, cwd: string, content: string | Buffer): string {
  return gitBytes(sb, cwd, ['hash-object', '-w', '--stdin'], Buffer.from(content));
}

/** A blob of `bytes` bytes, written without holding it in this process nor blocking its event loop. */
export async function hashBigBlob(sb: Sandbox, cwd: string, bytes: number): Promise<string> {
  const { stdout } = await run('sh', ['-c', `head -c ${bytes} /dev/zero | tr '\\0' 'a' | git hash-object -w --stdin`], { cwd, env: sb.env });
  return stdout.trim();
}

/** Builds the tree for `items` (nested by their path components) and returns its oid. */
export function mkTree(sb: Sandbox, cwd: string, items: readonly Item[]): string {
  const groups = new Map<string, { name: Buffer; children: Item[] }>();
  const records: Buffer[] = [];
  for (const it of items) {
    const name = Buffer.from(it.path[0]);
    if (it.path.length > 1) {
      const key = name.toString('hex');
      const g = groups.get(key) ?? { name, children: [] };
      g.children.push({ ...it, path: it.path.slice(1) });
      groups.set(key, g);
      continue;
    }
    const mode = it.mode ?? '100644';
    const type = mode === '160000' ? 'commit' : 'blob';
    const oid = it.oid ?? hashBlob(sb, cwd, it.content ?? '');
    records.push(Buffer.concat([Buffer.from(`${mode} ${type} ${oid}\t`), name, Buffer.from([0])]));
  }
  for (const g of groups.values()) {
    records.push(Buffer.concat([Buffer.from(`040000 tree ${mkTree(sb, cwd, g.children)}\t`), g.name, Buffer.from([0])]));
  }
  return gitBytes(sb, cwd, ['mktree', '-z', '--missing'], Buffer.concat(records));
}

/** A commit of `tree` on top of `parent`, made the checkout's `main` (the work tree is not touched). */
export function commitTree(sb: Sandbox, cwd: string, tree: string, parent: string): string {
  const oid = gitBytes(sb, cwd, ['commit-tree', tree, '-p', parent, '-m', 'crafted']);
  gitBytes(sb, cwd, ['update-ref', 'refs/heads/main', oid]);
  return oid;
}
