import { validateAgentId } from './agent-id.js';
import { hasUserInfo, USAGE, unsafeCharIn } from './config/values.js';
import { UserError } from './errors.js';
import { checkHttpRemote } from './remote-scope.js';

export const AGENT_PLACEHOLDER = '{agentId}';

/** scp-like SSH (`git@host:path`), ssh://, https:// and http:// remotes are accepted. */
export function remoteKind(url: string): 'https' | 'ssh' | 'file' | undefined {
  if (/^https?:\/\//i.test(url)) return 'https';
  if (/^ssh:\/\//i.test(url) || /^[\w.-]+@[\w.-]+:(?!\/\/)/.test(url)) return 'ssh';
  if (/^file:\/\//i.test(url) || url.startsWith('/')) return 'file';
  return undefined;
}

// The accepted spellings, checked with the placeholder filled in. Hosts are names, IPv4 in any form, or (http only)
// a bracketed IPv6 literal, optionally with the trailing root dot; never `*`, which git's urlmatch takes as a wildcard; a user or host never starts with `-` (ssh would read an option); paths
// hold RFC 3986 unreserved characters, `/`, `+`, `@` and %XX only: no quotes, backslashes, brackets, spaces, `?` or
// `#`, nothing git's config parser, urlmatch or a shell would treat specially.
const HOST = '[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*';
const USER = '[A-Za-z0-9_][A-Za-z0-9._-]*';
const PATH = '(?:[A-Za-z0-9._~+@-]|%[0-9A-Fa-f]{2})';
const HTTP_HOST = `(?:${HOST}\\.?|\\[[0-9A-Fa-f:.]+\\])`;
const ACCEPTED = [
  new RegExp(`^https?://${HTTP_HOST}(?::\\d{1,5})?/(?:${PATH}|/)*$`, 'i'),
  new RegExp(`^ssh://(?:${USER}@)?${HOST}(?::\\d{1,5})?/(?:${PATH}|/)*$`, 'i'),
  new RegExp(`^${USER}@${HOST}:(?!-)(?:${PATH}|/)+$`),
  new RegExp(`^(?:file://)?/(?:${PATH}|/)*$`, 'i'),
];
const EXAMPLES = 'https://host/owner/{agentId}.git, ssh://git@host/owner/{agentId}.git or git@host:owner/{agentId}.git';
const SAMPLE_ID = 'agent-00000000-0000-4000-8000-000000000000';

/**
 * Validates a remote URL template. It ends up in git config (`url.<remote>.insteadOf`, the server's included config)
 * and in git's URL matching, so only plain spellings pass; credentials are refused because git would store them in
 * .git/config. The value is never repeated in the error: it may be a token pasted into the wrong option.
 */
export function validateRemoteTemplate(template: string, source: string): string {
  const bad = (why: string, fix = `use ${EXAMPLES}`) => new UserError(`${source}: the remote ${why}`, fix, USAGE);
  // user:password@ in any form: scheme://user:pass@host, or scp-like user:pass@host:path.
  if ((/^https?:\/\//i.test(template) && hasUserInfo(template)) || /^ssh:\/\/[^/@]*:[^/@]*@/i.test(template) || /^[^/@:]+:[^/@]*@/.test(template)) {
    throw bad(
      'carries credentials in the URL (the value is not shown)',
      'remove them from the URL and export the token in LETTA_MEMFS_GIT_TOKEN (or the variable named by --token-env), or use --token-file with a chmod 600 file',
    );
  }
  const filled = template.split(AGENT_PLACEHOLDER).join(SAMPLE_ID);
  // git hands a port over 65535 to curl or ssh, which fail later with an unrelated message, or wrap it around.
  const port = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[^/@]*@)?(?:\[[^\]/]*\]|[^/:]*):(\d+)(?:\/|$)/.exec(filled)?.[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) throw bad(`has port ${port.slice(0, 12)}, which cannot exist`, 'use a port from 1 to 65535, or none for the default');
  // An http(s) host spelled so that git's urlmatch would skip the key guard gets the canonical spelling as its fix.
  if (/^https?:\/\//i.test(filled)) {
    try {
      checkHttpRemote(filled, source, USAGE);
    } catch (err) {
      const e = err as UserError;
      throw new UserError(e.message, e.fix?.split(SAMPLE_ID).join(AGENT_PLACEHOLDER), USAGE);
    }
  }
  const unsafe = unsafeCharIn(template);
  if (unsafe) throw bad(`contains ${unsafe}`);
  if (!remoteKind(filled) || !ACCEPTED.some((re) => re.test(filled))) {
    throw bad('is not a git URL we accept (plain host and path; no quotes, spaces, brackets, ?, # or {} other than {agentId}; the value is not shown)');
  }
  return template;
}

/** Renders the per-agent remote; a fixed URL (no placeholder) serves one agent only. */
export function renderRemote(template: string, agentId: string): string {
  validateAgentId(agentId);
  return template.split(AGENT_PLACEHOLDER).join(agentId);
}

export function hasPlaceholder(template: string): boolean {
  return template.includes(AGENT_PLACEHOLDER);
}
