import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from '../core/errors.js';
import { selfCommand } from '../core/self-command.js';
import { EXIT } from './exit-codes.js';
import { suggest } from './suggest.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** The command as the help names it (`init --server`, `status`), for error messages. */
function commandOf(help: string): string {
  return /^usage: letta-memfs-hooks ([a-z-]+(?: --server)?)/.exec(help)?.[1] ?? '<command>';
}

/**
 * Pure: node's parseArgs error as our one line with a fix (its own text has an unbalanced quote and talks about
 * positionals). Unknown flags get the closest known one.
 */
export function usageError(err: { code?: string; message: string }, options: Options, help: string): UserError {
  const command = commandOf(help);
  const helpFix = `run ${selfCommand()} ${command} --help`;
  const flag = /'(-[^' ]+)/.exec(err.message)?.[1] ?? '';
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const name = flag.replace(/^-+/, '').split('=')[0];
    const known = Object.keys(options);
    const close = suggest(name, known);
    return new UserError(`unknown option ${flag.split('=')[0]} for ${command}`, close ? `did you mean --${close}?` : helpFix, EXIT.usage);
  }
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    if (/argument missing/.test(err.message)) return new UserError(`${flag} needs a value`, `pass ${flag} <value>`, EXIT.usage);
    if (/does not take an argument/.test(err.message)) return new UserError(`${flag} takes no value`, `pass ${flag} alone`, EXIT.usage);
  }
  return new UserError(err.message.split('\n')[0].replace(/'/g, ''), helpFix, EXIT.usage);
}

/** The flags of every command that acts on agents of a memfs root: which agents, which root, which config file. */
export const AGENT_FLAGS = {
  agent: { type: 'string', multiple: true },
  all: { type: 'boolean' },
  'memfs-root': { type: 'string' },
  config: { type: 'string' },
} as const;

/**
 * node:util parseArgs with our one-line error style. Returns undefined after printing `help` for `--help`,
 * so the caller returns exit code 0.
 */
export function parseCommandArgs<O extends Options>(argv: string[], options: O, help: string) {
  const all = { ...options, help: { type: 'boolean', short: 'h' } } as O & { help: { type: 'boolean'; short: 'h' } };
  const config = { args: argv, options: all, allowPositionals: true, strict: true } as const;
  let parsed: ReturnType<typeof parseArgs<typeof config>>;
  try {
    parsed = parseArgs(config);
  } catch (err) {
    throw usageError(err as { code?: string; message: string }, all, help);
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(help.trimEnd() + '\n');
    return undefined;
  }
  return parsed;
}

/** Refuses positional arguments (every command takes flags only), exit 2. */
export function noPositionals(positionals: readonly string[], help: string, fix?: string): void {
  if (positionals.length === 0) return;
  const command = commandOf(help);
  throw new UserError(`unexpected argument ${JSON.stringify(positionals[0])} for ${command}`, fix ?? `run ${selfCommand()} ${command} --help`, EXIT.usage);
}
