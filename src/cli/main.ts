#!/usr/bin/env node
import { formatError, UserError } from '../core/errors.js';
import { packageVersion } from '../core/package.js';
import { selfCommand } from '../core/self-command.js';
import { logLine } from '../core/log.js';
import { EXIT } from './exit-codes.js';
import { suggest } from './suggest.js';
import { errorJson, printJson } from './json.js';

/** A command module: parses its own argv, returns the process exit code. */
export interface Command {
  run(argv: string[]): Promise<number>;
}

// Loaded lazily so that a command pays only for its own imports (hooks start this process often).
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  init: { summary: 'set up a client checkout, or with --server every agent repo under a memfs root', load: () => import('./commands/init.js') },
  uninstall: { summary: 'remove the hooks and config, restoring what was there before', load: () => import('./commands/uninstall.js') },
  status: { summary: 'show agent, remote, hooks and sync state', load: () => import('./commands/status.js') },
  doctor: { summary: 'check git, Letta, the sync endpoint, auth, remotes and hooks', load: () => import('./commands/doctor.js') },
  pull: { summary: 'local-backend checkout: one two-way round with the host; server: bring the external remote into repo.git and sync Letta', load: () => import('./commands/pull.js') },
  sync: { summary: 'server: deliver sync calls (--pending: retry undelivered ones)', load: () => import('./commands/sync.js') },
  daemon: { summary: 'local backend: one process that keeps every local agent of this machine in sync with the host', load: () => import('./commands/daemon.js') },
  watch: { summary: 'server: one process that pulls, pushes server edits and serves webhooks', load: () => import('./commands/watch.js') },
  serve: { summary: 'server: the memfs git service behind an unpatched Letta\'s /v1/git/ proxy', load: () => import('./commands/serve.js') },
  restore: { summary: 'server: rebuild every agent\'s repo.git from the external host and bring Letta\'s blocks to it', load: () => import('./commands/restore.js') },
  maintain: { summary: 'server: pack repo.git objects safely while Letta runs (watch does it for busy repos)', load: () => import('./commands/maintain.js') },
  'patch-server': { summary: 'check or apply our patches to a Letta server tree', load: () => import('./commands/patch-server.js') },
};

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(13)} ${c.summary}`);
  return ['usage: letta-memfs-hooks <command> [options]', '       letta-memfs-hooks --version', '', ...rows, '', "run 'letta-memfs-hooks <command> --help' for a command's options"].join('\n');
}

function unknownCommand(name: string): UserError {
  const close = suggest(name, Object.keys(COMMANDS));
  return new UserError(`unknown command "${name}"`, close ? `did you mean "${selfCommand()} ${close}"?` : `run ${selfCommand()} --help`, EXIT.usage);
}

/** The exit code an error carries (UserError's), else a plain failure. */
function exitCodeOf(err: unknown): number {
  const code = (err as { exitCode?: unknown } | undefined)?.exitCode;
  return typeof code === 'number' ? code : EXIT.failed;
}

/** Errors on stderr as one line; with --json also as one JSON object on stdout, so a script parsing stdout sees it. */
function reportError(err: unknown, json: boolean): number {
  const code = exitCodeOf(err);
  logLine(formatError(err));
  if (json) {
    printJson({ ...errorJson(err), exitCode: code }, true);
  }
  return code;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${packageVersion()}\n`);
    return EXIT.ok;
  }
  if (!name || name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    process.stdout.write(usage() + '\n');
    return name ? EXIT.ok : EXIT.usage;
  }
  // `help <command>` is `<command> --help`, as in git.
  const [command, args] = name === 'help' ? [rest[0], [...rest.slice(1), '--help']] : [name, rest];
  const json = args.includes('--json');
  const entry = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!entry) return reportError(unknownCommand(command), json);
  try {
    const cmd = await entry.load();
    return await cmd.run(args);
  } catch (err) {
    return reportError(err, json);
  }
}

// A reader that closes early (`status | head`) is not an error of ours.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    logLine(formatError(err));
    process.exitCode = 1;
  },
);
