import { isAgentId } from '../agent-id.js';
import { UserError } from '../errors.js';
import { hasPlaceholder, validateRemoteTemplate } from '../template.js';

/**
 * Settings, from lowest to highest precedence: defaults, user config dir, repo config file, environment, flags.
 * Secrets are never settings: the config names the env var or 0600 file that holds each one.
 */
export interface Config {
  /** External git URL, `{agentId}` templated; https, ssh or scp-like. */
  remote?: string;
  /** Agents this config serves; with more than one, `remote` must contain `{agentId}`. */
  agents: string[];
  /** Letta server base URL (client: the origin to redirect; server: where sync calls go). */
  lettaUrl: string;
  /** Letta actor, sent as the `user_id` header (letta/server/rest_api/dependencies @ 0.16.7). */
  lettaUserId?: string;
  /** Env var holding the Letta server password, sent as `Authorization: Bearer` to a --secure server. */
  lettaPasswordEnv: string;
  /** Username for HTTPS basic auth to the external host (the token is the password). */
  gitUsername: string;
  /** Env var holding the external host's token. */
  gitTokenEnv: string;
  /** A 0600 file holding the external host's token, used when the env var is unset. */
  gitTokenFile?: string;
  /** Server role: the Letta memfs root (`~/.letta/memfs`). */
  memfsRoot?: string;
  /** Server role: seconds between periodic pulls in `watch`. */
  pollIntervalSeconds: number;
  /** Server role: where `watch` listens for webhooks and client pokes. */
  webhookHost: string;
  webhookPort: number;
  /** Env var holding the webhook secret (HMAC key for GitHub/Gitea, token for GitLab, poke signature key). */
  webhookSecretEnv: string;
  /** Client: the server's `watch` endpoint (`http://host:8284`); after a push to main the client pokes it, signed. */
  pokeUrl?: string;
  /** Server role: per-request timeout and retry count for sync-from-git calls. */
  syncTimeoutSeconds: number;
  syncRetries: number;
  /** Hooks wait for the sync call instead of leaving it to the background; off so git never blocks on the network. */
  syncBlocking: boolean;
}

export const DEFAULTS: Config = {
  agents: [],
  lettaUrl: 'http://localhost:8283',
  lettaPasswordEnv: 'LETTA_SERVER_PASSWORD',
  gitUsername: 'git',
  gitTokenEnv: 'LETTA_MEMFS_GIT_TOKEN',
  pollIntervalSeconds: 60,
  webhookHost: '127.0.0.1',
  webhookPort: 8284,
  webhookSecretEnv: 'LETTA_MEMFS_WEBHOOK_SECRET',
  syncTimeoutSeconds: 10,
  syncRetries: 5,
  syncBlocking: false,
};

type Kind = 'string' | 'number' | 'boolean' | 'string[]';
const KEYS: Record<keyof Config, Kind> = {
  remote: 'string',
  agents: 'string[]',
  lettaUrl: 'string',
  lettaUserId: 'string',
  lettaPasswordEnv: 'string',
  gitUsername: 'string',
  gitTokenEnv: 'string',
  gitTokenFile: 'string',
  memfsRoot: 'string',
  pollIntervalSeconds: 'number',
  webhookHost: 'string',
  webhookPort: 'number',
  webhookSecretEnv: 'string',
  pokeUrl: 'string',
  syncTimeoutSeconds: 'number',
  syncRetries: 'number',
  syncBlocking: 'boolean',
};

const SECRET_KEYS = /token|password|secret|apikey|api_key/i;
// http(s)://host[:port][/path], with no user info anywhere (it would be a password in a config file).
const HTTP_URL_NO_CREDENTIALS = /^https?:\/\/[^@/\s]+(\/[^@\s]*)?$/i;

/** Validates one layer (a file, the environment or flags); `source` names it in errors. */
export function validateLayer(raw: unknown, source: string): Partial<Config> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new UserError(`${source}: expected an object of settings`, 'see "Configuration" in the README');
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const kind = KEYS[key as keyof Config];
    if (!kind) {
      const hint = SECRET_KEYS.test(key)
        ? 'secrets do not go in config files: name the env var (gitTokenEnv, lettaPasswordEnv, webhookSecretEnv) or gitTokenFile'
        : `remove it; known keys: ${Object.keys(KEYS).join(', ')}`;
      throw new UserError(`${source}: unknown key "${key}"`, hint);
    }
    if (value === undefined) continue;
    if (!hasKind(value, kind)) {
      throw new UserError(`${source}: "${key}" must be a ${kind}, got ${JSON.stringify(value)}`, `set "${key}" to a ${kind}`);
    }
    out[key] = value;
  }
  if (typeof out.remote === 'string') validateRemoteTemplate(out.remote, `${source}: remote`);
  for (const id of (out.agents as string[] | undefined) ?? []) {
    if (!isAgentId(id)) throw new UserError(`${source}: "agents" has invalid id ${JSON.stringify(id)}`, 'use agent-<uuid> ids');
  }
  if (typeof out.pokeUrl === 'string' && !HTTP_URL_NO_CREDENTIALS.test(out.pokeUrl)) {
    throw new UserError(`${source}: pokeUrl must be an http(s) URL without credentials`, 'e.g. http://letta-host:8284');
  }
  if (typeof out.lettaUrl === 'string' && !HTTP_URL_NO_CREDENTIALS.test(out.lettaUrl)) {
    throw new UserError(`${source}: lettaUrl must be an http(s) URL without credentials`, 'e.g. http://127.0.0.1:8283');
  }
  return out as Partial<Config>;
}

function hasKind(value: unknown, kind: Kind): boolean {
  if (kind === 'string[]') return Array.isArray(value) && value.every((v) => typeof v === 'string');
  if (kind === 'number') return typeof value === 'number' && Number.isFinite(value) && value >= 0;
  return typeof value === kind;
}

/** Merges layers over the defaults and checks the rules that span keys. */
export function mergeLayers(layers: readonly Partial<Config>[]): Config {
  const cfg = Object.assign({}, DEFAULTS, ...layers) as Config;
  cfg.lettaUrl = cfg.lettaUrl.replace(/\/+$/, '');
  if (cfg.remote && cfg.agents.length > 1 && !hasPlaceholder(cfg.remote)) {
    throw new UserError(
      `remote ${cfg.remote} has no {agentId} but ${cfg.agents.length} agents are configured`,
      "put {agentId} in the URL, e.g. https://git.example.com/agents/{agentId}.git",
    );
  }
  return cfg;
}
