/**
 * The client's pre-push hook: refuses a push that would break the Letta server's sync or bypass the external host.
 * Decisions are in src/validate/ (validateUpdate, shared with a server's pre-receive); this module reads the pushed
 * trees (the pushed and the remote's commit) and their files through one git cat-file --batch-command, and reports.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { RepoPaths } from '../git/git.js';
import { ObjectReader } from '../git/objects.js';
import { MalformedTree } from '../git/tree.js';
import { logLine } from '../core/log.js';
import { trace } from '../core/trace.js';
import { type Settings, writeJsonAtomic } from '../core/settings.js';
import { redactUrl } from '../core/redact.js';
import { checkPushUrl, mainUpdates, parsePrePushInput, type PushUpdate, unreadableTree, ZERO_OID } from '../validate/push.js';
import { formatProblem, type Problem } from '../validate/problem.js';
import type { TreeEntry } from '../git/tree.js';
import type { PokeWaiter } from './poke.js';
import { MAX_FILE_BYTES, validateUpdate } from '../validate/tree.js';
import { parseLayout } from '../validate/letta-code-rules.js';
import { describeProfile, type Profile, SERVER_PROFILE } from '../validate/profile.js';

export interface PrePushInput {
  /** git's arguments: remote name (or the URL when pushing to a URL) and the push URL. */
  args: string[];
  stdin: string;
  repo: RepoPaths;
  stateDir: string;
  settings: Settings;
  env?: NodeJS.ProcessEnv;
}

function repoOpts(repo: RepoPaths) {
  return repo.workTree ? { cwd: repo.workTree } : { gitDir: repo.gitDir };
}

/**
 * The remote's current tree for an update: its old oid when we have that commit, else our remote-tracking ref for
 * it, else unknown (a new branch on the remote: nothing to compare read_only against).
 */
async function baseTree(objects: ObjectReader, remote: string, u: PushUpdate): Promise<TreeEntry[] | undefined> {
  if (!ZERO_OID.test(u.remoteOid) && (await objects.hasCommit(u.remoteOid))) return objects.lsTree(u.remoteOid);
  if (!ZERO_OID.test(u.remoteOid) && /^[\w.-]+$/.test(remote)) {
    const tracking = `refs/remotes/${remote}/${u.remoteRef.replace(/^refs\/heads\//, '')}`;
    if (await objects.hasCommit(tracking)) return objects.lsTree(tracking);
  }
  return undefined;
}

/**
 * Whose rules this checkout's pushes follow: a local-backend checkout's by Letta Code's own, for the layout it
 * records in `.git/letta-memory-layout-policy` (written by 0.32.18+ on every clone, pull and sync; absent means
 * legacy-only, as its checker reads it); any other checkout's by the Letta server's, which syncs its files.
 */
export async function pushProfile(settings: Settings, repo: RepoPaths): Promise<Profile> {
  if (settings.backend !== 'local') return SERVER_PROFILE;
  const policy = await readFile(path.join(repo.commonDir, 'letta-memory-layout-policy'), 'utf8').catch(() => undefined);
  return { consumer: 'letta-code', layout: parseLayout(policy) };
}

export async function checkPush(input: PrePushInput): Promise<Problem[]> {
  const [remote = '', url = ''] = input.args;
  const profile = await pushProfile(input.settings, input.repo);
  const problems: Problem[] = [];
  // Checked for every branch: a reflection branch pushed to the Letta proxy fails just the same.
  const urlProblem = checkPushUrl(url);
  if (urlProblem) problems.push(urlProblem);
  const objects = new ObjectReader(MAX_FILE_BYTES, repoOpts(input.repo));
  try {
    for (const u of mainUpdates(parsePrePushInput(input.stdin))) {
      let tree: TreeEntry[];
      try {
        tree = await objects.lsTree(u.localOid);
      } catch (err) {
        if (!(err instanceof MalformedTree)) throw err;
        problems.push(unreadableTree(u.localRef, err.message));
        continue;
      }
      const base = await baseTree(objects, remote, u);
      problems.push(...(await validateUpdate({ tree, base }, objects, profile)));
    }
  } finally {
    await objects.close();
  }
  return problems;
}

/**
 * The poke waiter (poke.ts), started before the checks so its node start overlaps them and the push; undefined
 * when no poke is configured. Loaded only then: signing needs node:crypto, ~15 modules a plain push never uses.
 */
async function startPoke(input: PrePushInput): Promise<PokeWaiter | undefined> {
  const env = input.env ?? process.env;
  const { config, agentId } = input.settings;
  const secret = env[config.webhookSecretEnv];
  if (!config.pokeUrl || !secret) return undefined;
  const { planPoke, startPokeWaiter } = await import('./poke.js');
  const plan = planPoke({
    agentId,
    pokeUrl: config.pokeUrl,
    secret,
    remote: input.args[0] ?? '',
    updates: parsePrePushInput(input.stdin),
    commonDir: input.repo.commonDir,
  });
  return plan && startPokeWaiter(plan, config.webhookSecretEnv);
}

/** Runs the checks, prints one line per problem, records the attempt for `status`; returns git's exit code. */
export async function clientPrePush(input: PrePushInput): Promise<number> {
  trace('prepush.start', input.settings.agentId);
  const poke = await startPoke(input);
  let problems: Problem[];
  try {
    problems = await checkPush(input);
  } catch (err) {
    poke?.cancel();
    throw err;
  }
  const url = input.args[1] ?? '';
  await writeJsonAtomic(path.join(input.stateDir, 'last-push.json'), {
    at: new Date().toISOString(),
    url: redactUrl(url),
    refs: parsePrePushInput(input.stdin).map((u) => ({ ref: u.remoteRef, oid: u.localOid })),
    refused: problems.length > 0,
  }).catch(() => undefined);
  if (problems.length === 0) {
    poke?.accept();
    trace('prepush.end', input.settings.agentId);
    return 0;
  }
  poke?.cancel();
  // Whose rules, then one line per problem, each naming the file, the rule and the fix.
  logLine(`push refused by ${describeProfile(await pushProfile(input.settings, input.repo))}: ${problems.length} problem${problems.length > 1 ? 's' : ''}`);
  for (const p of problems) logLine(`push refused: ${formatProblem(p)}`);
  return 1;
}
