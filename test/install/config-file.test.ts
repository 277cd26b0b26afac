// The git config reader and appender (src/git/config-file.ts) against git itself: every shape is given to both,
// on the same file, and must come out the same, or be declined (then the installer asks git, as before).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { appendEntries, entryMap, parseGitConfig } from '../../src/git/config-file.js';
import { parseConfigList, readConfigFile } from '../../src/git/config.js';
import { tempDir } from '../helpers/repo.js';

const tmp = tempDir();
afterAll(tmp.cleanup);
// No system or user config: only the file under test.
const ENV = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
const git = (args: string[]) => execFileSync('git', args, { env: ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
let n = 0;
const file = (text: string) => {
  const f = path.join(tmp.dir, `c${n++}`);
  fs.writeFileSync(f, text);
  return f;
};
const gitList = (f: string) => parseConfigList(git(['config', '--file', f, '--list', '-z']));

// The config git init writes (what Letta's repo.git/config holds before init --server).
const LETTA = '[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n';

/** Config files written by git itself, one `git config --file f --add key value` per pair. */
const GIT_WRITTEN: [string, [string, string][]][] = [
  ['letta repo.git', []],
  ['values git quotes or escapes', [['a.lead', ' x'], ['a.trail', 'x '], ['a.hash', 'a#b'], ['a.semi', 'a;b'], ['a.tab', 'a\tb'], ['a.nl', 'a\nb'], ['a.bs', 'c:\\x\\'], ['a.dq', 'say "hi"'], ['a.empty', ''], ['a.utf8', 'Grüße ✓']]],
  ['subsections with quotes, backslashes, dots, spaces, case', [['remote.o r"ig\\in.url', 'u'], ['http.https://H.example/A.b/.extraHeader', 'X: 1'], ['Section.Sub.Key', 'v'], ['section.sub.key', 'w'], ['a..b', 'empty sub']]],
  ['multi-valued keys and includes', [['include.path', 'letta-memfs/config'], ['include.path', '../other'], ['includeIf.gitdir:/w/x/.git.path', '/auth'], ['remote.o.fetch', '+a:b'], ['remote.o.fetch', '+c:d']]],
];

/** Hand-written files git reads, covering the syntax git itself never writes. */
const HAND_WRITTEN: [string, string][] = [
  ['comments and blank lines', '# top\n; also\n\n[core] # after a header\n\tbare = false ; trailing\n  # indented\n\tx = "a # b" # c\n'],
  ['spacing and quoting inside values', '[a]\nk=v\n  k2   =   two   words  \nk3 = a\t\tb\nk4 = a "b  c" d\nk5 = "" lead\nk6 = x""y\nk7 = \\t\\n\\b\\\\\\"\n'],
  ['headers', '[Core]\nBare = true\n[remote   "x y"]\nurl = u\n[s "a\\"b\\\\c\\qd"]\nk = v\n[e ""]\nk = v\n[n1-x]\nk = v\n'],
  ['no final newline', '[a]\nk = v'],
  ['empty', ''],
  ['only comments', '# nothing\n'],
];

/** Files the reader declines (git may read some of them): the installer asks git for these. */
const DECLINED: [string, string][] = [
  ['continuation line', '[a]\nk = one \\\n two\n'],
  ['CRLF', '[a]\r\nk = v\r\n'],
  ['BOM', '\ufeff[a]\nk = v\n'],
  ['deprecated [section.sub]', '[a.Sub]\nk = v\n'],
  ['key on the header line', '[a] k = v\n'],
  ['valueless boolean', '[a]\nk\n'],
  ['unknown escape', '[a]\nk = \\q\n'],
  ['unterminated quote', '[a]\nk = "v\n'],
  ['key before any section', 'k = v\n'],
  ['not UTF-8', Buffer.from([0x5b, 0x61, 0x5d, 0x0a, 0x6b, 0x3d, 0xff, 0x0a]).toString('latin1')],
];

describe('config reader: the same entries as git config --list', () => {
  for (const [name, pairs] of GIT_WRITTEN) {
    it(`a file git wrote: ${name}`, () => {
      const f = file(LETTA);
      for (const [k, v] of pairs) git(['config', '--file', f, '--add', k, v]);
      const parsed = parseGitConfig(fs.readFileSync(f, 'utf8'));
      expect(parsed, fs.readFileSync(f, 'utf8')).toBeDefined();
      expect(entryMap(parsed!.entries)).toEqual(gitList(f));
    });
  }
  for (const [name, text] of HAND_WRITTEN) {
    it(`a hand-written file: ${name}`, () => {
      const f = file(text);
      const parsed = parseGitConfig(text);
      expect(parsed).toBeDefined();
      expect(entryMap(parsed!.entries)).toEqual(gitList(f));
    });
  }
  for (const [name, text] of DECLINED) {
    it(`declines ${name}, and readConfigFile then gives what git gives`, async () => {
      const f = path.join(tmp.dir, `d${n++}`);
      fs.writeFileSync(f, Buffer.from(text, name === 'not UTF-8' ? 'latin1' : 'utf8'));
      expect(parseGitConfig(fs.readFileSync(f, 'utf8'))).toBeUndefined();
      const viaGit = (() => {
        try {
          return gitList(f);
        } catch {
          return new Map(); // git refuses the file: readConfigFile sees nothing either
        }
      })();
      expect(await readConfigFile(f)).toEqual(viaGit);
    });
  }
});

describe('config appender: the bytes git config --add writes', () => {
  const BASES: [string, string][] = [
    ['letta repo.git', LETTA],
    ['empty file', ''],
    ['no final newline', '[core]\n\tbare = false'],
    ['comment at the end', `${LETTA}# last\n`],
    ['a subsection already there', `${LETTA}[remote "o"]\n\turl = u\n`],
  ];
  const ADDS: [string, [string, string][]][] = [
    ['the include init --server adds', [['include.path', 'letta-memfs/config']]],
    ['values that need quotes or escapes', [['a.lead', ' x'], ['a.trail', 'x '], ['a.hash', 'a#b'], ['a.semi', 'a;b'], ['a.dq', 'say "hi"'], ['a.bs', 'c:\\x\\']]],
    ['a subsection with quotes and backslashes, and case', [['includeIf.gitdir:/w/"q"\\x/.git/.Path', '../auth'], ['Http.https://H.example/.extraHeader', 'X: 1']]],
    ['keys of two new sections, interleaved', [['x.a', '1'], ['y.b', '2'], ['x.c', '3'], ['x.a', '4']]],
  ];
  for (const [baseName, base] of BASES) {
    for (const [addName, adds] of ADDS) {
      it(`${addName}, to ${baseName}`, () => {
        const f = file(base);
        for (const [k, v] of adds) git(['config', '--file', f, '--add', k, v]);
        const ours = appendEntries(base, adds.map(([key, value]) => ({ key, value })));
        expect(ours).toBeDefined();
        expect(ours).toBe(fs.readFileSync(f, 'utf8'));
      });
    }
  }
  it('leaves it to git when the section exists (any case) or the file is not understood', () => {
    const include = [{ key: 'include.path', value: 'letta-memfs/config' }];
    expect(appendEntries(`${LETTA}[include]\n\tpath = x\n`, include)).toBeUndefined();
    expect(appendEntries(`${LETTA}[Include]\n`, include)).toBeUndefined();
    expect(appendEntries(`${LETTA}[remote "o"]\n`, [{ key: 'remote.o.url', value: 'u' }])).toBeUndefined();
    expect(appendEntries('[a]\nk = one \\\n two\n', include)).toBeUndefined();
    expect(appendEntries(LETTA, [{ key: 'nodot', value: 'v' }])).toBeUndefined();
    // A different subsection is a different section: appended.
    expect(appendEntries(`${LETTA}[remote "O"]\n`, [{ key: 'remote.o.url', value: 'u' }])).toBe(`${LETTA}[remote "O"]\n[remote "o"]\n\turl = u\n`);
  });
});
