/** Interactive questions for `init` on a terminal (node:readline); scripts use flags and --yes instead. */
import readline from 'node:readline';

export function canPrompt(yes: boolean): boolean {
  return !yes && Boolean(process.stdin.isTTY) && Boolean(process.stderr.isTTY);
}

/** Asks on stderr (stdout stays for results); `secret` hides what is typed. Empty answer -> undefined. */
export async function ask(question: string, opts: { secret?: boolean } = {}): Promise<string | undefined> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  if (opts.secret) {
    // readline echoes through _writeToOutput; print only the prompt itself.
    const internal = rl as unknown as { _writeToOutput: (s: string) => void };
    internal._writeToOutput = (s: string) => {
      if (s.startsWith(question)) process.stderr.write(question);
    };
  }
  try {
    const answer = await new Promise<string>((resolve) => rl.question(question, resolve));
    if (opts.secret) process.stderr.write('\n');
    return answer.trim() || undefined;
  } finally {
    rl.close();
  }
}
