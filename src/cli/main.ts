#!/usr/bin/env node
import { formatError } from '../core/errors.js';

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
  pull: { summary: 'server: bring the external remote into repo.git safely and sync Letta', load: () => import('./commands/pull.js') },
  sync: { summary: 'server: deliver sync calls (--pending: retry undelivered ones)', load: () => import('./commands/sync.js') },
  watch: { summary: 'server: one process that pulls, pushes server edits and serves webhooks', load: () => import('./commands/watch.js') },
  maintain: { summary: 'server: pack repo.git objects safely while Letta runs (watch does it for busy repos)', load: () => import('./commands/maintain.js') },
  'patch-server': { summary: 'check or apply our patches to a Letta server tree', load: () => import('./commands/patch-server.js') },
};

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(13)} ${c.summary}`);
  return ['usage: letta-memfs-hooks <command> [options]', '', ...rows, '', "run 'letta-memfs-hooks <command> --help' for a command's options"].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) {
    process.stderr.write(`letta-memfs-hooks: unknown command "${name}" (fix: run letta-memfs-hooks --help)\n`);
    return 2;
  }
  try {
    const cmd = await entry.load();
    return await cmd.run(rest);
  } catch (err) {
    process.stderr.write(`letta-memfs-hooks: ${formatError(err)}\n`);
    return typeof (err as { exitCode?: unknown }).exitCode === 'number' ? (err as { exitCode: number }).exitCode : 1;
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
    process.stderr.write(`letta-memfs-hooks: ${formatError(err)}\n`);
    process.exitCode = 1;
  },
);
