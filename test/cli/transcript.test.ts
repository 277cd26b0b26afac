/** docs/first-session.md is what the CLI prints today: the script that made it, run again, gives the same page. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

it('docs/first-session.md is up to date (re-run node scripts/transcript.mjs after changing the CLI output)', () => {
  const fresh = execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'transcript.mjs'), '--stdout'], { encoding: 'utf8' });
  const committed = fs.readFileSync(path.join(ROOT, 'docs', 'first-session.md'), 'utf8');
  expect(fresh).toBe(committed);
  // The session really ran: every step exited as a user expects.
  expect(committed.match(/^# exit \d+$/gm)).toEqual(Array(7).fill('# exit 0'));
});
