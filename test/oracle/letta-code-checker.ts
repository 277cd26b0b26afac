/**
 * Letta Code's own commit checks as a test oracle: the pre-commit hook and `.git/hooks/letta-memory-constraints.cjs`
 * that a real release writes into the checkout of an agent it creates (`agents create --backend local`, offline;
 * test/fixtures/letta-code-pypi.ts). One repo per layout policy gets those two files; each case is a parent commit
 * (HEAD) and a tree (the index), judged as `git commit` would judge it.
 *
 * Judging runs in one process per batch (letta-code-checker-runner.cjs, on the release's own node), because the real
 * hook starts node twice per tree (~0.3 s). `crossCheck` runs the unmodified hook on a sample of the same cases.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLocalAgent, type LettaCodePypi } from '../fixtures/letta-code-pypi.js';

export type Layout = 'root-marker' | 'legacy-only' | 'shared-memory';

export interface FileSpec {
  content: string | Buffer;
  /** 100644 unless given. */
  mode?: '100644' | '100755' | '120000';
}
export type Files = Record<string, FileSpec>;

export interface CheckerCase {
  id: string;
  parent: Files;
  tree: Files;
}

export interface Verdict {
  id: string;
  ok: boolean;
  output: string;
}

const RUNNER = fileURLToPath(new URL('./letta-code-checker-runner.cjs', import.meta.url));

function git(cwd: string, args: string[], input?: string | Buffer): string {
  const r = spawnSync('git', args, { cwd, input, encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** A path as fast-import takes it: C-quoted. */
const quote = (p: string) => `"${p.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`;

export class LettaCodeChecker {
  private constructor(
    readonly lc: LettaCodePypi,
    readonly layout: Layout,
    readonly repo: string,
  ) {}

  /** A repo carrying the hook files of a fresh agent of this release, with the given layout policy. */
  static open(lc: LettaCodePypi, layout: Layout, root = fs.mkdtempSync(path.join(os.tmpdir(), 'lmh-lc-oracle-'))): LettaCodeChecker {
    const home = path.join(root, 'home');
    fs.mkdirSync(home, { recursive: true });
    const agent = createLocalAgent(lc, home);
    const policy = fs.readFileSync(path.join(agent.dir, '.git', 'letta-memory-layout-policy'), 'utf8').trim();
    if (policy !== 'root-marker') throw new Error(`letta ${lc.version} made a ${policy} checkout; the oracle expects root-marker by default`);
    const repo = path.join(root, `repo-${layout}`);
    git(root, ['init', '-q', '-b', 'main', repo]);
    for (const f of ['pre-commit', 'letta-memory-constraints.cjs']) {
      fs.copyFileSync(path.join(agent.dir, '.git', 'hooks', f), path.join(repo, '.git', 'hooks', f));
    }
    fs.chmodSync(path.join(repo, '.git', 'hooks', 'pre-commit'), 0o755);
    fs.writeFileSync(path.join(repo, '.git', 'letta-memory-layout-policy'), `${layout}\n`);
    return new LettaCodeChecker(lc, layout, repo);
  }

  /** Writes every case's parent and tree as commits (one fast-import); returns [parent, tree] commit ids per case. */
  private write(cases: readonly CheckerCase[]): Array<[string, string]> {
    const chunks: Buffer[] = [];
    let mark = 0;
    const put = (s: string | Buffer) => chunks.push(typeof s === 'string' ? Buffer.from(s) : s);
    const commit = (ref: string, files: Files, from?: number) => {
      const blobs: Array<[string, string, number]> = [];
      for (const [p, f] of Object.entries(files)) {
        const data = typeof f.content === 'string' ? Buffer.from(f.content) : f.content;
        put(`blob\nmark :${++mark}\ndata ${data.length}\n`);
        put(data);
        put('\n');
        blobs.push([p, f.mode ?? '100644', mark]);
      }
      put(`commit ${ref}\nmark :${++mark}\ncommitter t <t@t> 0 +0000\ndata 0\n${from ? `from :${from}\n` : ''}deleteall\n`);
      for (const [p, m, b] of blobs) put(`M ${m} :${b} ${quote(p)}\n`);
      put('\n');
      return mark;
    };
    const marks: Array<[number, number]> = [];
    cases.forEach((c, i) => {
      const p = commit(`refs/cases/${i}/parent`, c.parent);
      marks.push([p, commit(`refs/cases/${i}/tree`, c.tree, p)]);
    });
    const marksFile = path.join(this.repo, '.git', 'case-marks');
    git(this.repo, ['fast-import', '--quiet', '--force', `--export-marks=${marksFile}`], Buffer.concat(chunks));
    const byMark = new Map(fs.readFileSync(marksFile, 'utf8').trim().split('\n').map((l) => l.split(' ') as [string, string]).map(([m, o]) => [Number(m.slice(1)), o]));
    return marks.map(([p, t]) => [byMark.get(p)!, byMark.get(t)!]);
  }

  /** Letta Code's verdict on each case, in order (one runner process). */
  async judge(cases: readonly CheckerCase[], env: NodeJS.ProcessEnv = {}): Promise<Verdict[]> {
    const oids = this.write(cases);
    const child = spawn(this.lc.node, [RUNNER], { cwd: this.repo, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const done = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
    child.stdin.end(cases.map((c, i) => JSON.stringify({ id: c.id, repo: this.repo, parent: oids[i][0], tree: oids[i][1], env })).join('\n') + '\n');
    const code = await done;
    if (code !== 0) throw new Error(`checker runner exited ${code}: ${err.slice(-2000)}`);
    const verdicts = out.trim().split('\n').map((l) => JSON.parse(l) as Verdict & { error?: string });
    for (const v of verdicts) if (v.error) throw new Error(`checker runner failed on case ${v.id}: ${v.error}`);
    if (verdicts.length !== cases.length) throw new Error(`checker runner answered ${verdicts.length} of ${cases.length} cases: ${err}`);
    return verdicts;
  }

  /** The unmodified pre-commit hook (the real node, twice per tree) on the given cases: exit 0 or not. */
  crossCheck(cases: readonly CheckerCase[], env: NodeJS.ProcessEnv = {}): Verdict[] {
    const oids = this.write(cases);
    return cases.map((c, i) => {
      git(this.repo, ['update-ref', 'HEAD', oids[i][0]]);
      git(this.repo, ['read-tree', oids[i][1]]);
      const r = spawnSync(path.join(this.repo, '.git', 'hooks', 'pre-commit'), [], { cwd: this.repo, encoding: 'utf8', env: { ...process.env, ...env } });
      return { id: c.id, ok: r.status === 0, output: `${r.stdout}${r.stderr}`.trim() };
    });
  }
}
