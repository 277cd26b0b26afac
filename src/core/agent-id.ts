import { UserError } from './errors.js';

// Letta server ids are `<prefix>-<uuid4>` (letta/schemas/agent.py @ 0.16.7: AgentState id prefix "agent").
const SERVER_AGENT_ID = /^agent-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// Letta Code's local backend names agents `agent-local-${randomUUID()}` (letta-code
// src/backend/local/local-agent-record.ts createLocalAgentRecord @ v0.30.29; same in the 0.32.18 bundle), and
// node's randomUUID is always a lowercase RFC 4122 version 4 UUID. Its "agent-local-default" is only seeded by test
// stores (local-backend.ts passes seedDefaultAgent: false), so it is not accepted.
const LOCAL_AGENT_ID = /^agent-local-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** An id of Letta Code's local backend (`agent-local-<uuid4>`), whose memory has no Letta server behind it. */
export function isLocalAgentId(value: string): boolean {
  return LOCAL_AGENT_ID.test(value);
}

export function isAgentId(value: string): boolean {
  return SERVER_AGENT_ID.test(value) || LOCAL_AGENT_ID.test(value);
}

/** Refuses anything but `agent-<uuid>` or `agent-local-<uuid4>`: ids end up in paths and URLs, so no traversal or injection may pass. */
export function validateAgentId(value: string, source = 'agent id', exitCode = 1): string {
  if (!isAgentId(value)) {
    // The value is not repeated: it may hold terminal escapes, or a secret pasted into the wrong option.
    throw new UserError(
      `invalid ${source}: expected agent-<uuid> (or agent-local-<uuid> for Letta Code's local backend; lower-case hex)`,
      'pass the id shown by Letta, e.g. --agent agent-123e4567-e89b-42d3-a456-426614174000',
      exitCode,
    );
  }
  return value;
}

/**
 * The agent id in a Letta memfs origin URL, `{base}/v1/git/{agentId}/state.git`
 * (letta-code src/agent/memoryGit.ts; letta/server/rest_api/routers/v1/git_http.py @ 0.16.7).
 */
export function agentIdFromLettaUrl(url: string): string | undefined {
  const m = /\/v1\/git\/([^/]+)\/state\.git\/?$/.exec(url);
  return m && isAgentId(m[1]) ? m[1] : undefined;
}

export function isLettaGitUrl(url: string): boolean {
  return /\/v1\/git\/[^/]+\/state\.git\/?$/.test(url);
}
