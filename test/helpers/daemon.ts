/** A long-running command of the bundle (`watch`, `serve`) for tests that talk to it over HTTP, e.g. scrape /metrics. */
import { type ChildProcess, spawn } from 'node:child_process';
import { CLI } from './cli.js';

export class Daemon {
  log = '';
  private readonly exited: Promise<number | null>;

  private constructor(private readonly child: ChildProcess) {
    child.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.exited = new Promise((r) => child.on('close', (code) => r(code)));
  }

  static start(args: string[], env: NodeJS.ProcessEnv, cwd: string): Daemon {
    return new Daemon(spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, LETTA_MEMFS_INTERNAL: undefined, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  /** The first match of `re` in the log (its first group), waiting up to `ms`. */
  async waitFor(re: RegExp, ms = 20_000): Promise<string> {
    const end = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.log);
      if (m) return m[1] ?? m[0];
      if (this.child.exitCode !== null || Date.now() > end) throw new Error(`no ${re} in the log:\n${this.log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM, then the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}

/** Every sample of a Prometheus text scrape, keyed by name and labels as written (`lmh_pulls_total{outcome="ok"}`). */
export function parseScrape(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

/** The metric names a scrape declares (its `# TYPE` lines), histograms with their _bucket, _sum and _count series. */
export function declaredNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(m[1]);
    if (m[2] === 'histogram' || m[2] === 'summary') for (const s of ['_bucket', '_sum', '_count']) names.add(m[1] + s);
  }
  return names;
}
