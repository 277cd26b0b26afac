// Minimal Letta REST client for the e2e tests (default actor: no user_id header).
import { Agent, fetch } from 'undici';

export interface Block {
  id: string;
  label: string;
  value: string;
  description: string | null;
  limit: number;
  read_only: boolean;
  metadata: Record<string, unknown>;
}

export interface SyncResponse {
  agent_id: string;
  files_read: number;
  synced_blocks: Block[];
  detached_blocks: { id: string; label: string }[];
  failed_labels: string[];
  skipped_files: string[];
  recompiled: boolean;
}

// uvicorn closes an idle keep-alive connection after 5 s; a request sent on it at that moment fails with
// "other side closed". Dropping idle sockets after 1 s on our side avoids reusing one the server is closing.
const dispatcher = new Agent({ keepAliveTimeout: 1_000, keepAliveMaxTimeout: 1_000 });

export class Rest {
  constructor(
    readonly base: string,
    private readonly password?: string,
    /** Letta's actor header (`user_id`, letta/server/rest_api/dependencies.py); none means Letta's default user. */
    private readonly userId?: string,
  ) {}

  async call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any; text: string }> {
    const init = {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(this.password ? { authorization: `Bearer ${this.password}` } : {}),
        ...(this.userId ? { user_id: this.userId } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher,
    };
    let r: Awaited<ReturnType<typeof fetch>>;
    try {
      r = await fetch(`${this.base}${path}`, init);
    } catch (err) {
      // A GET is safe to send again when the connection broke under it.
      if (method !== 'GET') throw err;
      r = await fetch(`${this.base}${path}`, init);
    }
    const text = await r.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: r.status, json, text };
  }

  async ok(method: string, path: string, body?: unknown): Promise<any> {
    const r = await this.call(method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path} -> ${r.status}: ${r.text.slice(0, 500)}`);
    return r.json;
  }

  /** An agent on model letta/letta-free (listed without network calls), git memory on unless gitMemory=false. */
  async createAgent(name: string, opts: { gitMemory?: boolean; blocks?: { label: string; value: string; description?: string }[] } = {}) {
    const agent = await this.ok('POST', '/v1/agents/', {
      name,
      model: 'letta/letta-free',
      embedding: 'letta/letta-free',
      tags: opts.gitMemory === false ? [] : ['git-memory-enabled'],
      memory_blocks: opts.blocks ?? [
        { label: 'human', value: 'The human is called Ada.', description: 'What I know about the human' },
        { label: 'persona', value: 'I am a careful assistant.', description: 'Who I am' },
      ],
    });
    return agent as { id: string; tags: string[] };
  }

  async blocks(agentId: string): Promise<Block[]> {
    return (await this.ok('GET', `/v1/agents/${agentId}/core-memory/blocks?limit=1000`)) as Block[];
  }

  async blockByLabel(agentId: string, label: string): Promise<Block | undefined> {
    return (await this.blocks(agentId)).find((b) => b.label === label);
  }

  async sync(agentId: string, recompile = false) {
    return this.call('POST', `/v1/agents/${agentId}/memory/sync-from-git${recompile ? '?recompile=true' : ''}`);
  }

  /** The agent's compiled system prompt as stored (first in-context message). */
  async systemPrompt(agentId: string): Promise<string> {
    const msgs = (await this.ok('GET', `/v1/agents/${agentId}/messages?limit=1&order=asc`)) as { message_type: string; content: string }[];
    const sys = msgs.find((m) => m.message_type === 'system_message');
    if (!sys) throw new Error(`agent ${agentId} has no system message`);
    return sys.content;
  }
}
