/**
 * The channel between serve's pre-receive (a constant sh script, hooks-dir.ts) and serve's own process, one per
 * receive-pack, so that a push is checked in serve and not in a node started for it (~300 ms per push on a loaded
 * machine, issue 22). A private directory with two FIFOs: the hook writes into `in` the quarantine path git gives it,
 * git's ref lines and an END line; serve answers into `out` a verdict line (`0`: accept), the lines git shows as
 * `remote:`, and an END line. The hook refuses the push on anything else, EOF included (serve gone: fail closed).
 *
 * serve opens both FIFOs O_RDWR|O_NONBLOCK: such an open never waits for the other end, so a hook that never runs (a
 * push fsck refused, a client gone) pins no thread; and holding a writer of `in` and a reader of `out` keeps the
 * hook's own opens from waiting while serve lives.
 */
import { execFile } from 'node:child_process';
import { constants, lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { mkdirPrivate } from '../../core/fs.js';
import { close as closeCb, open as openCb } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

/** The variable naming the channel directory in the hook's environment (through receive-pack's). */
export const CHANNEL_ENV = 'LMH_HOOK_CHANNEL';
/** Ends each side's lines: never a ref line (`<old> <new> <ref>`), a path git names, nor a line of ours (encodeVerdict). */
export const END = '.';
/** git's ref lines for one push: a client pushing thousands of refs is refused, not buffered without bound. */
const MAX_INPUT_BYTES = 1024 * 1024;
/** What serve sends back for git to show as `remote:` lines. */
export const MAX_REPLY_BYTES = 32 * 1024;

const openFd = promisify(openCb);
const closeFd = (fd: number) => new Promise<void>((res) => closeCb(fd, () => res()));
const execFileP = promisify(execFile);

export interface HookInput {
  /** GIT_QUARANTINE_PATH as the hook saw it (untrusted until checked against the repo: pre-receive.ts). */
  quarantine: string;
  /** git's pre-receive stdin. */
  refLines: string;
}

export interface Verdict {
  accept: boolean;
  lines: string[];
}

/** Pure: what the hook sent once its END line is in, undefined before. */
export function parseHookInput(text: string): HookInput | undefined {
  const lines = text.split('\n');
  const end = lines.indexOf(END, 1);
  if (end < 0) return undefined;
  return { quarantine: lines[0], refLines: lines.slice(1, end).join('\n') };
}

/** Pure: the reply, at most MAX_REPLY_BYTES of lines (whole lines; a line equal to END is never sent as one). */
export function encodeVerdict(v: Verdict): string {
  const lines = v.lines.flatMap((l) => l.split('\n')).map((l) => (l === END ? ` ${END}` : l));
  const out = [v.accept ? '0' : '1'];
  let size = 2;
  for (let i = 0; i < lines.length; i++) {
    size += Buffer.byteLength(lines[i]) + 1;
    if (size > MAX_REPLY_BYTES - 100) {
      out.push(`letta-memfs-hooks: ... ${lines.length - i} more line(s) not shown`);
      break;
    }
    out.push(lines[i]);
  }
  return `${[...out, END].join('\n')}\n`;
}

const CHANNEL = /^ch-(\d+)-[A-Za-z0-9]+$/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Where serve makes one channel per receive-pack: a private directory of serve's state dir. */
export class HookChannels {
  private constructor(readonly dir: string) {}

  /**
   * Makes the directory (0700) and removes the channels a dead serve left there (their names carry its pid; our own
   * pid too: none is ours yet, and a restarted container's serve has its predecessor's). A hook of such a serve may
   * wait in its open of a FIFO: opening and closing both ends first lets it see EOF and refuse.
   */
  static async create(dir: string): Promise<HookChannels> {
    await mkdirPrivate(dir);
    for (const name of await readdir(dir)) {
      const m = CHANNEL.exec(name);
      if (!m || (Number(m[1]) !== process.pid && alive(Number(m[1])))) continue;
      for (const fifo of ['in', 'out']) {
        const file = path.join(dir, name, fifo);
        if (!(await lstat(file).catch(() => undefined))?.isFIFO()) continue;
        const fd = await openFd(file, constants.O_RDWR | constants.O_NONBLOCK).catch(() => undefined);
        if (fd !== undefined) await closeFd(fd);
      }
      await rm(path.join(dir, name), { recursive: true, force: true });
    }
    return new HookChannels(dir);
  }

  /** A new channel; the caller closes it once receive-pack has exited. Rejects when one cannot be made (refuse the push). */
  async open(): Promise<HookChannel> {
    const dir = await mkdtemp(path.join(this.dir, `ch-${process.pid}-`));
    try {
      // Node has no mkfifo(3): one process for both.
      await execFileP('mkfifo', ['-m', '600', '--', path.join(dir, 'in'), path.join(dir, 'out')]);
      const inFd = await openFd(path.join(dir, 'in'), constants.O_RDWR | constants.O_NONBLOCK);
      const outFd = await openFd(path.join(dir, 'out'), constants.O_RDWR | constants.O_NONBLOCK).catch(async (err: Error) => {
        await closeFd(inFd);
        throw err;
      });
      return new HookChannel(dir, inFd, outFd);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }
}

export class HookChannel {
  /** The hook's environment: the channel directory (a constant script reads it; nothing is quoted into shell). */
  readonly env: Record<string, string>;
  private readonly input: net.Socket;
  private readonly output: net.Socket;
  private readonly gone = new AbortController();
  private closing?: Promise<void>;

  constructor(
    readonly dir: string,
    inFd: number,
    outFd: number,
  ) {
    this.env = { [CHANNEL_ENV]: dir };
    this.input = new net.Socket({ fd: inFd, readable: true, writable: false });
    // Never read: serve's own reply would come back to it.
    this.output = new net.Socket({ fd: outFd, readable: false, writable: true });
    for (const s of [this.input, this.output]) s.on('error', () => this.gone.abort());
  }

  /**
   * Answers the hook with `decide`'s verdict once its input is complete. `decide` gets a signal that fires when the
   * channel closes (receive-pack exited: nothing is waiting for the verdict any more); one that throws refuses.
   */
  serve(decide: (input: HookInput, gone: AbortSignal) => Promise<Verdict>): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let decided = false;
    // Read to the end even past the cap (discarding): a hook still writing would never get to read the verdict.
    this.input.on('data', (d: Buffer) => {
      if (decided) return;
      size += d.length;
      if (size > MAX_INPUT_BYTES) {
        decided = true;
        this.reply({ accept: false, lines: [`letta-memfs-hooks: push refused: over ${MAX_INPUT_BYTES} bytes of ref updates`] });
        return;
      }
      chunks.push(d);
      const input = parseHookInput(Buffer.concat(chunks).toString('utf8'));
      if (!input) return;
      decided = true;
      decide(input, this.gone.signal)
        .catch((err: Error) => ({ accept: false, lines: [`letta-memfs-hooks: push refused: the server could not check it (${err.message.split('\n')[0]}); try again`] }))
        .then((v) => this.reply(v));
    });
  }

  private reply(v: Verdict): void {
    if (!this.gone.signal.aborted) this.output.write(encodeVerdict(v));
  }

  /** Ends the channel: a waiting decide is told, a waiting hook sees EOF (refuses), and the directory goes. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.gone.abort();
      this.input.destroy();
      this.output.destroy();
      await rm(this.dir, { recursive: true, force: true });
    })();
    return this.closing;
  }
}
