import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from '../core/errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * node:util parseArgs with our one-line error style. Returns undefined after printing `help` for `--help`,
 * so the caller returns exit code 0.
 */
export function parseCommandArgs<O extends Options>(argv: string[], options: O, help: string) {
  const config = {
    args: argv,
    options: { ...options, help: { type: 'boolean', short: 'h' } } as O & { help: { type: 'boolean'; short: 'h' } },
    allowPositionals: true,
    strict: true,
  } as const;
  let parsed: ReturnType<typeof parseArgs<typeof config>>;
  try {
    parsed = parseArgs(config);
  } catch (err) {
    throw new UserError((err as Error).message.split('\n')[0], 'run the command with --help', 2);
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(help.trimEnd() + '\n');
    return undefined;
  }
  return parsed;
}
