import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configJsonSchema, SCHEMA_URL } from '../../src/core/config/json-schema.js';
import { DEFAULTS, mergeLayers, validateLayer } from '../../src/core/config/schema.js';
import { errorLine } from '../helpers/repo.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

describe('the shipped JSON Schema of config files', () => {
  it('is the committed file, generated from the schema the CLI checks (run npm run build after changing it)', () => {
    expect(read('schema/config.schema.json')).toBe(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  });

  it('ships in the package and names every key the CLI reads, with its default, and no other', () => {
    expect(JSON.parse(read('package.json')).files).toContain('schema');
    const schema = JSON.parse(read('schema/config.schema.json'));
    expect(schema.additionalProperties).toBe(false);
    expect(schema.$id).toBe(SCHEMA_URL);
    for (const [key, prop] of Object.entries<{ description?: string }>(schema.properties)) {
      expect(prop.description, key).toBeTruthy();
      if (key !== '$schema') expect(errorLine(() => validateLayer({ [key]: {} }, 'f.json')), key).toMatch(new RegExp(`f.json: "${key.replace('$', '\\$')}" must be (a |stock or patched|github or gitea or gitlab)`));
    }
    for (const [key, value] of Object.entries(DEFAULTS)) expect(schema.properties[key].default, key).toEqual(value);
  });

  it('a $schema key is accepted in a config file and ignored', () => {
    const layer = validateLayer({ $schema: SCHEMA_URL, gitUsername: 'x-access-token' }, 'f.json');
    expect(layer).toEqual({ gitUsername: 'x-access-token' });
    expect(errorLine(() => validateLayer({ $schema: 1 }, 'f.json'))).toMatch(/f.json: "\$schema" must be a string, got a number/);
  });

  it('the example config in the README is valid and points at the shipped schema', () => {
    const section = read('README.md').split('\n## Configuration\n')[1].split('\n## ')[0];
    const example = JSON.parse(/```json\n([\s\S]*?)```/.exec(section)![1]);
    expect(example.$schema).toBe(SCHEMA_URL);
    const cfg = mergeLayers([validateLayer(example, 'README')]);
    expect(cfg.remote).toBe(example.remote);
  });
});
