/**
 * Pure decisions about a push as git's pre-push hook sees it: which updates carry content the server reads, and
 * whether the push URL escaped the redirect. The trees themselves are judged by tree.ts (validateUpdate), which a
 * server-side pre-receive shares; src/client/pre-push.ts is the adapter that runs git.
 */
import { isLettaGitUrl } from '../core/agent-id.js';
import { redactUrl } from '../core/redact.js';
import type { Problem } from './problem.js';
import { selfCommand } from '../core/self-command.js';

export const ZERO_OID = /^0+$/;

export interface PushUpdate {
  localRef: string;
  localOid: string;
  remoteRef: string;
  remoteOid: string;
}

/** git's pre-push stdin: `<local-ref> <local-oid> <remote-ref> <remote-oid>` per line (githooks(5)). */
export function parsePrePushInput(stdin: string): PushUpdate[] {
  const out: PushUpdate[] = [];
  for (const line of stdin.split('\n')) {
    const parts = line.trim().split(' ');
    if (parts.length !== 4) continue;
    const [localRef, localOid, remoteRef, remoteOid] = parts;
    out.push({ localRef, localOid, remoteRef, remoteOid });
  }
  return out;
}

/**
 * Updates whose content the server will read: those that set `main` on the remote. Reflection worktrees
 * (letta-code >= 0.27.26) push `letta/reflection/*` branches that the server never syncs; deletions carry no tree.
 */
export function mainUpdates<U extends Pick<PushUpdate, 'remoteRef' | 'localOid'>>(updates: readonly U[]): U[] {
  return updates.filter((u) => u.remoteRef === 'refs/heads/main' && !ZERO_OID.test(u.localOid));
}

/**
 * The push URL git hands pre-push is already rewritten by `url.*.insteadOf`; if it is still a Letta `/v1/git/` URL,
 * the redirect is missing for it and the push would go to the Letta proxy, which a self-hosted server cannot serve
 * (letta/server/rest_api/routers/v1/git_http.py @ 0.16.7).
 */
export function checkPushUrl(url: string): Problem | undefined {
  if (!isLettaGitUrl(url)) return undefined;
  return {
    path: redactUrl(url),
    message: 'this push would go to the Letta /v1/git/ proxy, not to your git host',
    fix: `re-run ${selfCommand()} init in this checkout so the redirect covers this URL`,
  };
}

/** A pushed commit whose tree git itself cannot list (a crafted tree, e.g. an entry with an empty name). */
export function unreadableTree(ref: string, gitMessage: string): Problem {
  const why = gitMessage.trim().split('\n').pop()?.replace(/^fatal: /, '') ?? 'unknown error';
  return { path: ref, message: `has a malformed tree that git cannot list (${why})`, fix: 'rebuild the commit from a clean checkout (git reset --soft origin/main, git add, git commit), then push' };
}
