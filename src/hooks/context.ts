import type { RepoPaths } from '../git/git.js';
import type { Settings } from '../core/settings.js';

/** What a hook module gets: git's arguments and stdin, the repo, and the settings `init` recorded for it. */
export interface HookContext {
  hook: string;
  args: string[];
  stdin: string;
  repo: RepoPaths;
  stateDir: string;
  settings: Settings;
}

/** A hook module's default export; returns the exit code for git. */
export type HookHandler = (ctx: HookContext) => Promise<number>;
