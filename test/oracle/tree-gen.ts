/**
 * Seeded generator of memory trees for the Letta Code differential test: a parent (the remote's tree) and a tree
 * (the commit), mixing valid and broken layouts, frontmatter, limits, configs and skill paths. Names are plain ASCII
 * without spaces: Letta Code's legacy pre-commit splits `git diff --name-only` output on whitespace and git quotes
 * non-ASCII names there, so such names fail its hook for reasons that are its bugs, not rules (see the test's note).
 */
import { mulberry32 } from '../helpers/prng.js';
import type { CheckerCase, Files } from './letta-code-checker.js';

export function treeGenerator(seed: number) {
  const r = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const chance = (p: number) => r() < p;
  const word = () => pick(['tools', 'notes', 'prefs', 'people', 'plan', 'setup', 'log', 'ideas', 'style', 'x']);
  const body = () => (chance(0.1) ? 'y'.repeat(pick([19_990, 20_000, 20_001, 25_000])) : pick(['hello\n', 'Some text.\n', '- a\n- b\n', '', 'line\r\nline\r\n', 'é😀 unicode\n']));

  function v2File(): string {
    const v = r();
    if (v < 0.55) return `---\nname: ${word()}\ndescription: ${pick(['what it is', 'a b c', 'x'])}\n---\n${body()}`;
    const variants = [
      `---\ndescription: only description\n---\n${body()}`,
      `---\nname: ${word()}\n---\n${body()}`,
      `---\nname: a\ndescription: b\nread_only: true\n---\n`,
      `---\nname: a\ndescription: b\nlimit: 100\n---\n`,
      `---\nname: ""\ndescription: b\n---\n`,
      `---\nname: a\ndescription: ''\n---\n`,
      `---\nname:\ndescription: b\n---\n`,
      `---\nname: a\nname: b\ndescription: c\n---\n`,
      `---\n  name: a\ndescription: b\n---\n`,
      `---\nname: a\ndescription: b\n\n---\nbody`,
      `---\nname: a\ndescription: b\n`,
      `no frontmatter at all\n`,
      `---\r\nname: a\r\ndescription: b\r\n---\r\n`,
      `---\nname: a\ndescription: b: c\n---\n`,
      `---\nname a\ndescription: b\n---\n`,
      `---\nname: a\ndescription: b\nmetadata: {}\n---\n`,
      `\ufeff---\nname: a\ndescription: b\n---\n`,
    ];
    return pick(variants);
  }
  function legacyFile(): string {
    const v = r();
    if (v < 0.5) return `---\ndescription: ${pick(['what it is', 'x'])}\n${chance(0.2) ? 'limit: 5000\n' : ''}---\n${body()}`;
    return pick([
      `---\ndescription: d\nread_only: true\n---\n`,
      `---\ndescription: d\nread_only: false\n---\n`,
      `---\n---\n`,
      `---\ndescription:\n---\n`,
      `---\nname: n\ndescription: d\n---\n`,
      `---\ndescription: d\nmetadata:\n  a: 1\n---\n`,
      `---\ndescription: d\n`,
      `plain\n`,
      `---\n description: d\n---\n`,
    ]);
  }
  function index(): string {
    return chance(0.85) ? pick(['# Memory\n', '- [a](a.md)\n', '']) : `---\nname: i\ndescription: d\n---\n`;
  }
  function config(): string {
    return pick([
      '{"version":1}',
      '{"version":1,"maxDepth":1}',
      '{"version":1,"maxDepth":3,"maxFileCharacters":50}',
      '{"version":1,"maxCoreMemoryCharacters":100}',
      '{"version":1,"fileCharacterLimits":[{"pattern":"reference/**","maxCharacters":30}]}',
      '{"version":1,"fileCharacterLimits":[{"pattern":"**/*.md","maxCharacters":null}],"maxFileCharacters":10}',
      '{"version":1,"readOnlyFiles":["persona.md"]}',
      '{"version":1,"readOnlyFiles":["reference/*"]}',
      '{"version":2}',
      '{"version":1,"extra":true}',
      '{"version":1,"maxDepth":-1}',
      'not json',
      '[]',
      '{"version":1,"readOnlyFiles":["/abs"]}',
      '{"version":1,"fileCharacterLimits":[{"pattern":"a**","maxCharacters":1}]}',
    ]);
  }
  const agentBase = (): Files => ({
    'MEMORY.md': { content: '# Memory\n' },
    'persona.md': { content: '---\nname: Persona\ndescription: Who I am\n---\nI am.\n' },
    'human.md': { content: '---\nname: Human\ndescription: The user\n---\nUnknown.\n' },
  });

  function tree(base: Files): Files {
    const t: Files = chance(0.6) ? { ...base } : {};
    if (chance(0.85)) t['MEMORY.md'] = { content: index() };
    else delete t['MEMORY.md'];
    const folders = ['system', 'reference', 'journal', 'skills', 'a', 'a/b', 'a/b/c', 'memory/system'];
    const nFiles = Math.floor(r() * 5);
    for (let i = 0; i < nFiles; i++) {
      const f = chance(0.25) ? '' : pick(folders);
      const p = `${f ? `${f}/` : ''}${word()}.md`;
      t[p] = { content: chance(0.5) ? v2File() : legacyFile() };
      if (f && chance(0.75)) {
        const parts = f.split('/');
        for (let k = 1; k <= parts.length; k++) if (chance(0.9)) t[`${parts.slice(0, k).join('/')}/MEMORY.md`] = { content: index() };
      }
    }
    if (chance(0.1)) t[`skills/${word()}.md`] = { content: v2File() };
    if (chance(0.1)) t[`skills/${word()}/SKILL.md`] = { content: '---\nname: s\ndescription: d\n---\n' };
    if (chance(0.1)) t['notes.txt'] = { content: 'plain text\n' };
    if (chance(0.05)) t['profile.png'] = { content: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 0xff]) };
    if (chance(0.05)) for (const n of ['core1', 'core2', 'core3', 'core4']) t[`${n}.md`] = { content: `---\nname: ${n}\ndescription: d\n---\n${'z'.repeat(17_000)}` };
    if (chance(0.2)) t['.memfs.config.json'] = { content: config() };
    if (chance(0.1)) {
      const k = pick(Object.keys(t));
      if (k) t[k] = { ...t[k], mode: '100755' };
    }
    return t;
  }

  return function next(i: number): CheckerCase {
    const v = r();
    const parent: Files = v < 0.5 ? agentBase() : v < 0.7 ? {} : v < 0.85 ? { 'reference/old.md': { content: '---\ndescription: d\nread_only: true\n---\nx\n' }, 'system/p.md': { content: '---\ndescription: d\n---\n' } } : tree(agentBase());
    if (chance(0.1)) parent['.memfs.config.json'] = { content: pick(['{"version":1,"readOnlyFiles":["persona.md"]}', '{"version":1}']) };
    const t = tree(parent);
    if (chance(0.15) && parent['reference/old.md']) t['reference/old.md'] = { content: pick(['---\ndescription: d\nread_only: true\n---\ny\n', '---\ndescription: d\n---\nx\n', '---\ndescription: d\nread_only: false\n---\nx\n']) };
    return { id: String(i), parent, tree: t };
  };
}
