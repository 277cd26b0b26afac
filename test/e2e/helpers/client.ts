// A client memory checkout as Letta Code lays it out (~/.letta/agents/<id>/memory, origin = the agent's Letta
// /v1/git URL), set up with the toolkit's client `init` so pushes and pulls go to the external git host.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cliOk } from './cli.js';

export interface ClientSettings {
  /** Remote template with {agentId}. */
  remote: string;
  lettaUrl: string;
  token: string;
}

export class Client {
  readonly home: string;
  readonly dir: string;
  constructor(
    readonly agentId: string,
    private readonly settings: ClientSettings,
  ) {
    this.home = mkdtempSync(join(tmpdir(), 'letta-e2e-client-'));
    this.dir = join(this.home, '.letta', 'agents', agentId, 'memory');
    mkdirSync(this.dir, { recursive: true });
  }
  env(): NodeJS.ProcessEnv {
    return {
      HOME: this.home,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 'Client',
      GIT_AUTHOR_EMAIL: 'client@example.invalid',
      GIT_COMMITTER_NAME: 'Client',
      GIT_COMMITTER_EMAIL: 'client@example.invalid',
      GIT_TERMINAL_PROMPT: '0',
      LETTA_MEMFS_GIT_URL: this.settings.remote,
      LETTA_BASE_URL: this.settings.lettaUrl,
      LETTA_MEMFS_GIT_TOKEN: this.settings.token,
    };
  }
  git(...args: string[]): string {
    return execFileSync('git', args, { cwd: this.dir, env: { ...process.env, ...this.env() }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }
  write(path: string, content: string | Buffer): void {
    mkdirSync(dirname(join(this.dir, path)), { recursive: true });
    writeFileSync(join(this.dir, path), content);
  }
  read(path: string): string {
    return readFileSync(join(this.dir, path), 'utf8');
  }
  /** git init + Letta origin, then `letta-memfs-hooks init`, then the first pull. */
  init(): void {
    this.git('init', '-q', '-b', 'main');
    this.git('remote', 'add', 'origin', `${this.settings.lettaUrl}/v1/git/${this.agentId}/state.git`);
    cliOk(['init', '--repo', this.dir, '-y'], this.env(), this.dir);
    this.git('pull', '-q', 'origin', 'main');
  }
  remove(): void {
    rmSync(this.home, { recursive: true, force: true });
  }
}
