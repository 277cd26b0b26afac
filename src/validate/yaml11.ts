/**
 * Frontmatter YAML read as the Letta server reads it: PyYAML `yaml.safe_load`, YAML 1.1
 * (letta/services/memory_repo/block_markdown.py parse_block_markdown @ 0.16.8). The `yaml` package parses the
 * syntax with every scalar kept as text (failsafe schema); plain scalars are then typed by PyYAML's implicit
 * resolvers (yaml/resolver.py, PyYAML 6), so `yes`, `on`, `2024-01-01`, `1:30` and `1_000` are what the server makes
 * of them. What two readers could take differently, or what the server would store as something other than the
 * text (anchors, aliases, tags, merge keys, dates, sexagesimal, octal, hex or underscored numbers, floats, non-string
 * keys), is refused with the fix; test/oracle/letta-server-frontmatter.test.ts holds this to the server's own reader.
 */
import { isAlias, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';

import { Yaml11Refusal } from './simple-yaml.js';

// PyYAML's implicit resolvers for plain scalars (resolver.py): which type the server gives each spelling.
const BOOL = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
const TRUE = /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/;
const NULL = /^(?:~|null|Null|NULL|)$/;
const FLOAT = /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
const INT = /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
const TIMESTAMP = /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/;
const DECIMAL = /^[-+]?(?:0|[1-9][0-9]*)$/;

/** The type PyYAML gives a plain scalar with this text. */
export function pyYamlPlainType(text: string): 'bool' | 'null' | 'float' | 'int' | 'timestamp' | 'merge' | 'value' | 'str' {
  if (BOOL.test(text)) return 'bool';
  if (FLOAT.test(text)) return 'float';
  if (INT.test(text)) return 'int';
  if (text === '<<') return 'merge';
  if (NULL.test(text)) return 'null';
  if (TIMESTAMP.test(text)) return 'timestamp';
  if (text === '=') return 'value';
  return 'str';
}

const quoteFix = (text: string) => `quote it to keep it as text: "${text.replace(/["\\]/g, '\\$&')}"`;

function plain(text: string): unknown {
  switch (pyYamlPlainType(text)) {
    case 'bool':
      return TRUE.test(text);
    case 'null':
      return null;
    case 'int': {
      if (!DECIMAL.test(text)) throw new Yaml11Refusal(`"${text}" is read by the Letta server (YAML 1.1) as a number, not as this text`, `${quoteFix(text)}, or write the number in plain decimal digits`);
      const n = Number(text);
      if (!Number.isSafeInteger(n)) throw new Yaml11Refusal(`${text} is too large a number`, quoteFix(text));
      return n;
    }
    case 'float':
      throw new Yaml11Refusal(`"${text}" is read by the Letta server (YAML 1.1) as a decimal fraction`, quoteFix(text));
    case 'timestamp':
      throw new Yaml11Refusal(`"${text}" is read by the Letta server (YAML 1.1) as a date`, quoteFix(text));
    case 'merge':
    case 'value':
      throw new Yaml11Refusal(`"${text}" has a special meaning in YAML 1.1`, quoteFix(text));
    default:
      return text;
  }
}

function value(node: unknown): unknown {
  if (isAlias(node)) throw new Yaml11Refusal('uses a YAML alias (*name)', 'write the value out instead of referring to an anchor');
  const n = node as Node | null;
  if (n === null) return null;
  if (n.anchor) throw new Yaml11Refusal(`uses a YAML anchor (&${n.anchor})`, 'remove the anchor');
  if (n.tag) throw new Yaml11Refusal(`uses a YAML tag (${n.tag})`, 'remove the tag and quote the value if it must stay text');
  if (isScalar(n)) {
    // The server's YAML text ends right before the closing ---, without a line break: PyYAML then drops a block
    // scalar's last newline where other readers keep it (found by the differential test).
    if (n.type === 'BLOCK_LITERAL' || n.type === 'BLOCK_FOLDED') throw new Yaml11Refusal('uses a | or > block', 'write the text on one line, or in double quotes with \\n for line breaks');
    return n.type === 'PLAIN' ? plain(String(n.value)) : String(n.value);
  }
  if (isSeq(n)) return n.items.map(value);
  if (isMap(n)) {
    const out: Record<string, unknown> = {};
    for (const pair of n.items) {
      const key = value(pair.key);
      if (typeof key !== 'string') throw new Yaml11Refusal(`has a key the Letta server reads as ${key === null ? 'null' : typeof key} (${String(key)}), not text`, 'quote the key');
      if (key === '__proto__') throw new Yaml11Refusal('has a key named __proto__', 'rename the key');
      out[key] = value(pair.value);
    }
    return out;
  }
  throw new Yaml11Refusal('has a YAML construct the Letta server may read differently', 'write plain "key: value" lines');
}

/** The frontmatter's YAML as the server's safe_load reads it; throws Yaml11Refusal, or an Error for invalid YAML. */
export function parseYaml11(text: string): unknown {
  const doc = parseDocument(text, { version: '1.1', schema: 'failsafe', uniqueKeys: true, prettyErrors: false, strict: true });
  const first = doc.errors[0] ?? doc.warnings[0];
  if (first) throw new Error(first.message);
  return value(doc.contents);
}
