import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseSimpleMapping } from '../../src/validate/simple-yaml.js';

/** Whatever the strict parser answers must be yaml's answer; where yaml throws, the strict parser must decline. */
function agreesWithYaml(text: string): boolean {
  const mine = parseSimpleMapping(text);
  if (mine === undefined) return true;
  let theirs: unknown;
  try {
    theirs = parse(text);
  } catch {
    return false;
  }
  return JSON.stringify(theirs) === JSON.stringify(mine) && Object.getPrototypeOf(theirs) === Object.prototype;
}

describe('strict frontmatter YAML', () => {
  it('parses the common frontmatter itself, as yaml does', () => {
    const cases: [string, Record<string, unknown>][] = [
      ['description: d', { description: 'd' }],
      ['description: What the user prefers, e.g. tabs (not spaces)\nlimit: 5000', { description: 'What the user prefers, e.g. tabs (not spaces)', limit: 5000 }],
      ['description: null\nlimit: 20000\nread_only: true', { description: null, limit: 20000, read_only: true }],
      ['description: It\'s "quoted" - [x] {y}, 50% & more\nread_only: False', { description: 'It\'s "quoted" - [x] {y}, 50% & more', read_only: false }],
      ['colour: red', { colour: 'red' }],
    ];
    for (const [text, data] of cases) {
      expect(parseSimpleMapping(text)).toEqual(data);
      expect(parse(text)).toEqual(data);
    }
  });

  it('declines anything outside its subset, leaving it to yaml', () => {
    for (const text of [
      '', 'description:', 'description:  two spaces', 'description: "quoted"', "description: 'q'", 'description: a: b', 'description: a #c',
      'description: trailing ', 'description: \ttab', 'description: 1.5', 'description: 0x1f', 'description: 007', 'description: -1', 'description: ~',
      'description: .inf', 'description: é', 'description: |', 'description: >', 'description: &a x', 'description: *a', 'description: !t x',
      'description: @x', 'description: `x', 'description: [a]', 'description: {a: 1}', 'description: - a', 'description: d\ndescription: e',
      'description: d\n', 'metadata:\n  k: v', '# c\ndescription: d', 'Description: d', 'true: d', 'null: d', '__proto__: d', '- a',
      'description: d\r', 'description: 1234567890123456',
    ]) {
      expect(parseSimpleMapping(text), JSON.stringify(text)).toBeUndefined();
    }
  });

  it('agrees with yaml on random lines built from YAML-significant pieces', () => {
    const keys = ['description', 'limit', 'read_only', 'metadata', 'true', 'Null', 'yes', 'no', 'on', 'k_1', 'a', '_x', 'x-y'];
    const values = ['d', 'yes', 'No', 'on', 'OFF', 'y', 'n', 'true', 'TRUE', 'tRue', 'null', 'NULL', 'nULL', '0', '00', '12', '0o7', '0x1', '1e3',
      '1_000', 'a b', 'a  b', 'a,b', 'a[b]', 'a{b}', 'a\'b', 'a"b', 'a\\b', 'a-', 'a?', 'a|b', 'a>b', 'a!b', 'a%b', 'a@b', 'a`b', 'a&b', 'a*b',
      'a:b', 'a: b', 'a #b', 'a#b', 'a ', ' a', 'a\tb', 'nan', 'NaN', 'inf', 'Infinity', '2024-01-01', 'a...', 'a---', '=', 'x=1', '<<'];
    const seps = [': ', ':', ':  ', ' : '];
    let seed = 9;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    let parsedByMe = 0;
    for (let i = 0; i < 4000; i++) {
      const lines = Array.from({ length: 1 + rand(3) }, () => keys[rand(keys.length)] + seps[rand(4) === 0 ? rand(seps.length) : 0] + values[rand(values.length)]);
      const text = lines.join('\n');
      expect(agreesWithYaml(text), JSON.stringify(text)).toBe(true);
      if (parseSimpleMapping(text) !== undefined) parsedByMe++;
    }
    // The fast path must actually take a good share of these, or it saves nothing.
    expect(parsedByMe).toBeGreaterThan(400);
  });
});
