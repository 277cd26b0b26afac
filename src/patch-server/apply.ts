import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { UserError } from '../core/errors.js';
import { detectLettaTree, type LettaTree } from './detect-version.js';
import { patchesDir, SERVER_PATCHES, SUPPORTED_VERSIONS, type ServerPatch } from './patches.js';

export type PatchState = 'applied' | 'applicable' | 'conflict';

export interface PatchStatus {
  patch: ServerPatch;
  state: PatchState;
  /** For a conflict: GNU patch's own report, first lines. */
  detail?: string;
}

export interface CheckReport {
  tree: LettaTree;
  statuses: PatchStatus[];
}

interface RunResult {
  code: number;
  output: string;
}

function run(cmd: string, args: string[], cwd: string): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    execFile(cmd, args, { cwd, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 127) : 0;
      resolvePromise({ code, output: `${stdout}${stderr}` });
    });
  });
}

let patchChecked = false;
async function ensureGnuPatch(): Promise<void> {
  if (patchChecked) return;
  const r = await run('patch', ['--version'], tmpdir());
  if (r.code !== 0 || !/GNU patch/.test(r.output)) {
    throw new UserError('GNU patch is not installed', 'apt-get install patch (Debian/Ubuntu) or apk add patch (Alpine)', 1);
  }
  patchChecked = true;
}

// --fuzz=0: the context must match exactly (we only support versions we tested); --batch: never ask; --forward: never guess that a patch is reversed; -r -: no .rej files; no .orig files.
const COMMON = ['-p1', '--fuzz=0', '--batch', '--no-backup-if-mismatch', '--reject-file=-', '--silent'];

/** Paths (relative to the tree root) that a unified diff touches, from its `+++ b/...` / `--- a/...` lines. */
export function filesInPatch(text: string): string[] {
  const files = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^(?:\+\+\+|---) (?:a|b)\/(\S+)/.exec(line);
    if (m) files.add(m[1]);
  }
  return [...files];
}

/** GNU patch's failures, each with the file it was checking ("letta/x.py: Hunk #2 FAILED at 61."). */
function failureSummary(output: string): string {
  let current = '';
  const out: string[] = [];
  for (const raw of output.split('\n')) {
    const l = raw.trim();
    const m = /^checking file (.+)$/.exec(l);
    if (m) current = m[1];
    else if (/FAILED|can't find file|No file to patch|malformed|Reversed|doesn't exist/i.test(l)) out.push(current ? `${current}: ${l}` : l);
  }
  return out.length > 0 ? out.slice(0, 4).join('; ') : firstLines(output);
}

function firstLines(s: string, n = 4): string {
  return s.trim().split('\n').slice(0, n).join(' | ');
}

async function statusOf(root: string, patch: ServerPatch): Promise<PatchStatus> {
  const file = join(patchesDir(), patch.file);
  // Already applied when the reverse applies cleanly (the patched text is all there).
  const reverse = await run('patch', [...COMMON, '--dry-run', '--reverse', '--force', '-i', file], root);
  if (reverse.code === 0) return { patch, state: 'applied' };
  const forward = await run('patch', [...COMMON.filter((a) => a !== '--silent'), '--dry-run', '--forward', '-i', file], root);
  if (forward.code === 0) return { patch, state: 'applicable' };
  return { patch, state: 'conflict', detail: failureSummary(forward.output) };
}

function refuseUnknownVersion(tree: LettaTree): void {
  if (!SUPPORTED_VERSIONS.includes(tree.version)) {
    throw new UserError(
      `letta ${tree.version} (from ${tree.versionSource}) is not a version these patches were made for; supported: ${SUPPORTED_VERSIONS.join(', ')}`,
      `install one of ${SUPPORTED_VERSIONS.join(', ')}`,
      1,
    );
  }
}

export async function checkServerTree(dir: string): Promise<CheckReport> {
  const tree = detectLettaTree(dir);
  refuseUnknownVersion(tree);
  await ensureGnuPatch();
  const statuses: PatchStatus[] = [];
  for (const patch of SERVER_PATCHES) statuses.push(await statusOf(tree.root, patch));
  return { tree, statuses };
}

export interface ApplyReport extends CheckReport {
  /** Patches applied by this call (empty when everything was already applied). */
  appliedNow: ServerPatch[];
}

/**
 * Applies every patch not yet applied, or nothing.
 *
 * The files the patches touch are copied to a scratch directory, the patches are applied there in order,
 * and only when all of them succeed are the results copied back. A failing hunk therefore leaves the
 * tree byte-identical, and running it twice is a no-op the second time.
 */
export async function applyServerTree(dir: string): Promise<ApplyReport> {
  const report = await checkServerTree(dir);
  const conflicts = report.statuses.filter((s) => s.state === 'conflict');
  if (conflicts.length > 0) {
    const names = conflicts.map((c) => `${c.patch.file}: ${c.detail ?? 'does not apply'}`).join('; ');
    throw new UserError(`nothing changed: ${conflicts.length} patch(es) do not apply to ${report.tree.root}: ${names}`, 'restore the original letta files (pip install --force-reinstall) and retry', 1);
  }
  const todo = report.statuses.filter((s) => s.state === 'applicable').map((s) => s.patch);
  if (todo.length === 0) return { ...report, appliedNow: [] };

  const root = report.tree.root;
  const scratch = mkdtempSync(join(tmpdir(), 'letta-patch-'));
  try {
    const touched = new Set<string>();
    for (const patch of todo) for (const f of filesInPatch(readFileSync(join(patchesDir(), patch.file), 'utf8'))) touched.add(f);
    for (const rel of touched) {
      const src = join(root, rel);
      if (existsSync(src)) {
        mkdirSync(dirname(join(scratch, rel)), { recursive: true });
        copyFileSync(src, join(scratch, rel));
      }
    }
    for (const patch of todo) {
      const r = await run('patch', [...COMMON, '--forward', '-i', join(patchesDir(), patch.file)], scratch);
      if (r.code !== 0) {
        throw new UserError(`nothing changed: ${patch.file} failed on a copy of ${root}: ${firstLines(r.output)}`, 'restore the original letta files and retry', 1);
      }
    }
    // Swap in: every patched copy replaces its original (new files are created; modes are kept).
    for (const rel of touched) {
      const patched = join(scratch, rel);
      const target = join(root, rel);
      if (existsSync(patched)) {
        const mode = existsSync(target) ? statSync(target).mode : undefined;
        mkdirSync(dirname(target), { recursive: true });
        copyFileSync(patched, target);
        if (mode !== undefined) chmodSync(target, mode);
      } else if (existsSync(target)) {
        unlinkSync(target); // a patch that deletes a file
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return { ...report, appliedNow: todo, statuses: report.statuses.map((s) => (s.state === 'applicable' ? { ...s, state: 'applied' } : s)) };
}
