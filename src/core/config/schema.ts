import { validateAgentId } from '../agent-id.js';
import { UserError } from '../errors.js';
import { hasPlaceholder, validateRemoteTemplate } from '../template.js';
import { checkActorId, checkEnvName, checkHttpUrl, checkNoUnsafeChars, checkUserName, normalizePath, printableKey, USAGE } from './values.js';

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
const ENV_NAME_KEYS = ['gitTokenEnv', 'lettaPasswordEnv', 'webhookSecretEnv'] as const;
const PATH_KEYS = ['gitTokenFile', 'memfsRoot'] as const;

export interface LayerContext {
  /** Where a relative path in this layer is relative to: the config file's directory, else the working directory. */
  baseDir?: string;
  /** For `~/...` paths; default the user's home. */
  home?: string;
}

/**
 * Validates one layer (a file, the environment or flags); `source` names it in errors. Every value that can reach git
 * config, a URL match, a header or a path is checked here (rules in values.ts), so no source can bypass them. Errors
 * exit 2 and never print a value: it may be a secret given to the wrong key.
 */
export function validateLayer(raw: unknown, source: string, ctx: LayerContext = {}): Partial<Config> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new UserError(`${source}: expected an object of settings`, 'see "Configuration" in the README', USAGE);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    // hasOwn: "__proto__", "constructor" and the like are unknown keys, not Object.prototype members.
    const kind = Object.hasOwn(KEYS, key) ? KEYS[key as keyof Config] : undefined;
    if (!kind) {
      const hint = SECRET_KEYS.test(key)
        ? 'secrets do not go in config files: name the env var (gitTokenEnv, lettaPasswordEnv, webhookSecretEnv) or gitTokenFile'
        : `remove it; known keys: ${Object.keys(KEYS).join(', ')}`;
      throw new UserError(`${source}: unknown key ${printableKey(key)}`, hint, USAGE);
    }
    if (value === undefined) continue;
    if (!hasKind(value, kind)) {
      const got = Array.isArray(value) ? 'a list' : value === null ? 'null' : `a ${typeof value}`;
      throw new UserError(`${source}: "${key}" must be a ${kind}, got ${got}`, `set "${key}" to a ${kind}`, USAGE);
    }
    for (const s of typeof value === 'string' ? [value] : Array.isArray(value) ? (value as string[]) : []) {
      checkNoUnsafeChars(s, `${source}: "${key}"`, `remove control and invisible characters from "${key}"`);
    }
    out[key] = value;
  }
  if (typeof out.remote === 'string') validateRemoteTemplate(out.remote, source);
  for (const id of (out.agents as string[] | undefined) ?? []) validateAgentId(id, `id in "agents" (${source})`, USAGE);
  if (typeof out.pokeUrl === 'string') checkHttpUrl(out.pokeUrl, 'pokeUrl', source, 'http://letta-host:8284');
  if (typeof out.lettaUrl === 'string') checkHttpUrl(out.lettaUrl, 'lettaUrl', source, 'http://127.0.0.1:8283');
  for (const key of ENV_NAME_KEYS) if (typeof out[key] === 'string') checkEnvName(out[key] as string, key, source);
  if (typeof out.gitUsername === 'string') checkUserName(out.gitUsername, source);
  if (typeof out.lettaUserId === 'string') checkActorId(out.lettaUserId, source);
  for (const key of PATH_KEYS) {
    if (typeof out[key] === 'string') out[key] = normalizePath(out[key] as string, key, source, ctx.baseDir ?? process.cwd(), ctx.home);
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
      `the remote has no {agentId} but ${cfg.agents.length} agents are configured`,
      "put {agentId} in the URL, e.g. https://git.example.com/agents/{agentId}.git",
      USAGE,
    );
  }
  return cfg;
}
