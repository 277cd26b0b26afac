/**
 * Pure: telling a missing repo from other git failures, and the error that names it with the two ways to fix it
 * (create it by hand, or turn creation on), for when `createRepos` is off.
 */
import { HOST_KINDS } from '../config/schema.js';
import { UserError } from '../errors.js';
import { redactUrl } from '../redact.js';
import { selfCommand } from '../self-command.js';

// GitHub and Gitea over https ("repository '<url>/' not found"), GitHub over ssh ("Repository not found."), GitLab
// ("The project you were looking for could not be found"), a 404 from any other smart-HTTP host.
const MISSING = /repository '[^']*' not found|Repository not found|project you were looking for could not be found|\b404\b|does not appear to be a git repository/i;

export function looksMissing(gitStderr: string): boolean {
  return MISSING.test(gitStderr);
}

/** A repo the host does not have: `init --all` skips an agent it would clone for this, rather than failing. */
export class MissingRepoError extends UserError {}

/** `role`: the init command that turns creation on for this role. */
export function missingRepoError(url: string, role: 'client' | 'server'): MissingRepoError {
  const init = role === 'server' ? 'init --server' : 'init';
  return new MissingRepoError(
    `the repo ${redactUrl(url)} does not exist on the host (or the token cannot see it)`,
    `create it there (private, empty), or let us create missing repos: ${selfCommand()} ${init} --create-repos ${HOST_KINDS.join('|')}`,
  );
}
