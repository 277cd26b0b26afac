/**
 * A strict parser for the YAML almost every memory file's frontmatter is: `key: value` lines with plain one-line
 * values. Loading the `yaml` package costs a pre-push more than all its git calls (issue 9), so the hook path uses
 * this and loads yaml only for anything else. It returns undefined, never a guess, for text outside its subset, which
 * is chosen so that the result is exactly what the Letta server's PyYAML safe_load (YAML 1.1) makes of it
 * (test/oracle/letta-server-frontmatter.test.ts).
 */

// A key yaml reads as that same string: no null/bool spelling, no `__proto__`.
const KEY = /^[a-z][a-z0-9_]*$/;
// YAML 1.1 reads yes/no/on/off as booleans too (PyYAML resolver.py): those go to the full reader.
const SPECIAL_KEY = /^(null|true|false|yes|no|on|off)$/i;
const BOOL_11 = /^(?:yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)$/;
// A plain scalar that starts with a letter (not an indicator, a number or .inf), printable ASCII without `#` (a
// comment after a space) or `:` (a nested mapping), and no trailing space (which yaml trims).
const STRING = /^[A-Za-z](?:[ !-"$-9;-~]*[!-"$-9;-~])?$/;
// Decimal integers that stay exact as a JS number.
const INT = /^(0|[1-9][0-9]{0,14})$/;
const CORE: Record<string, unknown> = { null: null, Null: null, NULL: null, true: true, True: true, TRUE: true, false: false, False: false, FALSE: false };

/** The mapping of `key: value` lines, or undefined when the text is anything else (let yaml decide). */
export function parseSimpleMapping(text: string): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(': ');
    if (colon < 0) return undefined;
    const key = line.slice(0, colon);
    const value = line.slice(colon + 2);
    if (!KEY.test(key) || SPECIAL_KEY.test(key) || Object.hasOwn(out, key)) return undefined;
    if (Object.hasOwn(CORE, value)) out[key] = CORE[value];
    else if (INT.test(value)) out[key] = Number(value);
    else if (STRING.test(value) && !BOOL_11.test(value)) out[key] = value;
    else return undefined;
  }
  return out;
}

/** Thrown by strictYaml for text outside its subset: the caller loads yaml and checks again. */
export class NeedsYaml extends Error {}

/** parseSimpleMapping as a YamlParser (frontmatter-rules.ts) that gives up with NeedsYaml instead of parsing more. */
export function strictYaml(text: string): Record<string, unknown> {
  const data = parseSimpleMapping(text);
  if (data === undefined) throw new NeedsYaml('frontmatter needs the full YAML parser');
  return data;
}

/** Something in a frontmatter the server would read differently from its text, with the fix (yaml11.ts throws it). */
export class Yaml11Refusal extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}
