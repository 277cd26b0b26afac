import { validateAgentId } from './agent-id.js';
import { UserError } from './errors.js';
import { redactUrl } from './redact.js';

export const AGENT_PLACEHOLDER = '{agentId}';

/** scp-like SSH (`git@host:path`), ssh://, https:// and http:// remotes are accepted. */
export function remoteKind(url: string): 'https' | 'ssh' | 'file' | undefined {
  if (/^https?:\/\//i.test(url)) return 'https';
  if (/^ssh:\/\//i.test(url) || /^[\w.-]+@[\w.-]+:(?!\/\/)/.test(url)) return 'ssh';
  if (/^file:\/\//i.test(url) || url.startsWith('/')) return 'file';
  return undefined;
}

/** Validates a remote URL template; tokens in URLs are refused because git writes them into .git/config. */
export function validateRemoteTemplate(template: string, source: string): string {
  const kind = remoteKind(template);
  if (!kind) {
    throw new UserError(
      `${source}: ${JSON.stringify(redactUrl(template))} is not a git URL`,
      "use https://host/owner/{agentId}.git, ssh://git@host/owner/{agentId}.git or git@host:owner/{agentId}.git",
    );
  }
  if (kind === 'https' && /^https?:\/\/[^/]*@/i.test(template)) {
    throw new UserError(
      `${source}: the URL ${redactUrl(template)} carries credentials`,
      'remove them from the URL and export LETTA_MEMFS_GIT_TOKEN (or set gitTokenFile) instead',
    );
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
