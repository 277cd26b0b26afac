// zod/mini: the server's hooks load config when main moves, and the full zod build is ~450 KB to parse on each run.
import * as z from 'zod/mini';
import { validateAgentId } from '../agent-id.js';
import { UserError } from '../errors.js';
import { hasPlaceholder, validateRemoteTemplate } from '../template.js';
import { checkActorId, checkEnvName, checkHttpUrl, checkNoUnsafeChars, checkUserName, normalizePath, printableKey, USAGE } from './values.js';

/** An optional key with its meaning (in the JSON Schema editors show). */
const opt = <T extends z.core.$ZodType>(type: T, description: string) => z.optional(type).check(z.describe(description));
const count = () => z.number().check(z.nonnegative());
const whole = () => z.int().check(z.nonnegative());

/** How external commits reach Letta's Postgres: a push through its own /v1/git/ proxy, or the patched endpoint. */
export const SERVER_MODES = ['stock', 'patched'] as const;
export type ServerMode = (typeof SERVER_MODES)[number];

/** Hosts whose REST API can create a missing agent repo (core/host-repo/). */
export const HOST_KINDS = ['github', 'gitea', 'gitlab'] as const;
export type HostKind = (typeof HOST_KINDS)[number];

/**
 * The shape of one settings layer (a file, the environment or flags): keys, types and what each means. Settings,
 * from lowest to highest precedence: defaults, user config dir, repo config file, environment, flags. Secrets are
 * never settings: the config names the env var or 0600 file that holds each one. The shipped JSON Schema
 * (schema/config.schema.json, for editors) is generated from this; value rules are values.ts's, applied below.
 */
export const LayerSchema = z.strictObject({
  $schema: opt(z.string(), 'The JSON Schema of this file, for editors; ignored.'),
  remote: opt(z.string(), 'External git URL, {agentId} templated; https, ssh:// or git@host:path; no credentials.'),
  agents: opt(z.array(z.string()), 'Agent ids (agent-<uuid>) this config serves; with more than one, remote must contain {agentId}.'),
  lettaUrl: opt(z.string(), "Letta server base URL (client: the origin whose /v1/git/ is redirected; server: where sync calls go)."),
  // Sent as the user_id header (letta/server/rest_api/dependencies @ 0.16.7).
  lettaUserId: opt(z.string(), 'Letta actor id (user-<uuid>), sent as the user_id header; default: the server default user.'),
  lettaPasswordEnv: opt(z.string(), "NAME of the env var holding a --secure Letta server's password (sent as Authorization: Bearer)."),
  gitUsername: opt(z.string(), "User name sent with the token to the external host (GitHub: x-access-token, GitLab: oauth2)."),
  gitTokenEnv: opt(z.string(), "NAME of the env var holding the external host's token."),
  gitTokenFile: opt(z.string(), "A chmod 600 file holding the external host's token, used when the env var is unset (~/ expanded)."),
  memfsRoot: opt(z.string(), "Server role: Letta's memfs root (~/.letta/memfs)."),
  pollIntervalSeconds: opt(count(), 'Server role: seconds between periodic pulls in watch.'),
  webhookHost: opt(z.string(), 'Server role: where watch listens for webhooks and client pokes.'),
  webhookPort: opt(whole(), 'Server role: the port watch listens on.'),
  webhookSecretEnv: opt(z.string(), 'NAME of the env var holding the webhook secret (GitHub/Gitea HMAC key, GitLab token, poke key).'),
  pokeUrl: opt(z.string(), "Client role: the server's watch endpoint (http://host:8284); each push to main pokes it, signed."),
  syncTimeoutSeconds: opt(count(), 'Server role: per-request timeout of sync calls to Letta.'),
  syncRetries: opt(whole(), 'Server role: retries of a sync call (backoff on connection errors, 429, 5xx).'),
  syncBlocking: opt(z.boolean(), 'Hooks wait for the sync call instead of leaving it to the background (git then blocks on the network).'),
  serverMode: opt(
    z.enum(SERVER_MODES),
    "Server role: stock (unpatched Letta; external commits are pushed through its /v1/git/ proxy to letta-memfs-hooks serve) or patched (the sync-from-git endpoint).",
  ),
  createRepos: opt(
    z.enum(HOST_KINDS),
    "Create an agent's repo on the host when it is missing, through this host's REST API (github: GitHub user or org; gitea: Gitea or Forgejo user or org; gitlab: GitLab namespace). Unset: never create.",
  ),
  hostApiUrl: opt(z.string(), 'The REST API base for createRepos (default: from the remote: https://api.github.com, <host>/api/v3, <host>/api/v1, <host>/api/v4).'),
  createPublic: opt(z.boolean(), 'Repos made by createRepos are public (default false: private).'),
});

type Layer = Omit<z.output<typeof LayerSchema>, '$schema'>;

export const DEFAULTS = {
  agents: [] as string[],
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
  // What a config without the key meant before stock mode existed; `init --server` records the detected mode.
  serverMode: 'patched' as ServerMode,
} satisfies Layer;

/** A merged config: every key with a default is set. */
export type Config = Layer & Required<Pick<Layer, keyof typeof DEFAULTS>>;

export interface LayerContext {
  /** Where a relative path in this layer is relative to: the config file's directory, else the working directory. */
  baseDir?: string;
  /** For `~/...` paths; default the user's home. */
  home?: string;
}

/**
 * Validates one layer; `source` names it in errors. The shape is checked first (unknown keys, types), then every
 * value that can reach git config, a URL match, a header or a path (values.ts), so no source can bypass them.
 * Errors exit 2 and never print a value: it may be a secret given to the wrong key.
 */
export function validateLayer(raw: unknown, source: string, ctx: LayerContext = {}): Partial<Config> {
  const parsed = z.pipe(LayerSchema, z.transform((layer) => applyValueRules(layer, source, ctx))).safeParse(raw);
  if (!parsed.success) throw shapeError(parsed.error.issues, raw, source);
  return parsed.data;
}

function applyValueRules({ $schema: _, ...layer }: z.output<typeof LayerSchema>, source: string, ctx: LayerContext): Layer {
  for (const [key, value] of Object.entries(layer)) {
    for (const s of typeof value === 'string' ? [value] : Array.isArray(value) ? value : []) {
      checkNoUnsafeChars(s, `${source}: "${key}"`, `remove control and invisible characters from "${key}"`);
    }
  }
  if (layer.remote !== undefined) validateRemoteTemplate(layer.remote, source);
  for (const id of layer.agents ?? []) validateAgentId(id, `id in "agents" (${source})`, USAGE);
  if (layer.pokeUrl !== undefined) checkHttpUrl(layer.pokeUrl, 'pokeUrl', source, 'http://letta-host:8284');
  if (layer.lettaUrl !== undefined) checkHttpUrl(layer.lettaUrl, 'lettaUrl', source, 'http://127.0.0.1:8283');
  if (layer.hostApiUrl !== undefined) checkHttpUrl(layer.hostApiUrl, 'hostApiUrl', source, 'https://git.example.com/api/v1');
  for (const key of ['gitTokenEnv', 'lettaPasswordEnv', 'webhookSecretEnv'] as const) {
    if (layer[key] !== undefined) checkEnvName(layer[key], key, source);
  }
  if (layer.gitUsername !== undefined) checkUserName(layer.gitUsername, source);
  if (layer.lettaUserId !== undefined) checkActorId(layer.lettaUserId, source);
  for (const key of ['gitTokenFile', 'memfsRoot'] as const) {
    if (layer[key] !== undefined) layer[key] = normalizePath(layer[key], key, source, ctx.baseDir ?? process.cwd(), ctx.home);
  }
  return layer;
}

const SECRET_KEYS = /token|password|secret|apikey|api_key/i;

/** One zod issue as our one-line error: which key, from which source, and the fix; never the value. */
function shapeError(issues: readonly z.core.$ZodIssue[], raw: unknown, source: string): UserError {
  // Unknown keys first: a secret pasted under its own key gets the hint, whatever else is wrong.
  const issue = issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0];
  const [key, index] = issue.path as [string?, number?];
  if (issue.code === 'unrecognized_keys') {
    const bad = issue.keys.find((k) => SECRET_KEYS.test(k)) ?? issue.keys[0];
    const hint = SECRET_KEYS.test(bad)
      ? 'secrets do not go in config files: name the env var (gitTokenEnv, lettaPasswordEnv, webhookSecretEnv) or gitTokenFile'
      : `remove it; known keys: ${KNOWN_KEYS.join(', ')}`;
    return new UserError(`${source}: unknown key ${printableKey(bad)}`, hint, USAGE);
  }
  if (key === undefined) return new UserError(`${source}: expected an object of settings`, 'see "Configuration" in the README', USAGE);
  if (issue.code === 'invalid_type') {
    const kind = index !== undefined || issue.expected === 'array' ? 'list of strings' : issue.expected === 'int' ? 'whole number' : issue.expected;
    const value = (raw as Record<string, unknown>)[key];
    const got = index !== undefined ? `a list with ${kindOf((value as unknown[])[index])}` : kindOf(value);
    return new UserError(`${source}: "${key}" must be a ${kind}, got ${got}`, `set "${key}" to a ${kind}`, USAGE);
  }
  if (issue.code === 'invalid_value') {
    const allowed = issue.values.map(String).join(' or ');
    return new UserError(`${source}: "${key}" must be ${allowed}`, `set "${key}" to ${allowed}`, USAGE);
  }
  // The one other check in the shape: counts are not negative.
  return new UserError(`${source}: "${key}" must be a number of 0 or more`, `set "${key}" to a number of 0 or more`, USAGE);
}

const kindOf = (v: unknown) => (Array.isArray(v) ? 'a list' : v === null ? 'null' : typeof v === 'object' ? 'an object' : typeof v === 'number' && !Number.isFinite(v) ? String(v) : `a ${typeof v}`);
const KNOWN_KEYS = Object.keys(LayerSchema.shape).filter((k) => k !== '$schema');

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
