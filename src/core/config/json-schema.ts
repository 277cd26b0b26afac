/**
 * The JSON Schema of a config file, for editors (completion, hover docs, checks as you type): generated from the zod
 * shape so the two cannot disagree, with the defaults added. scripts/build-schema.mjs writes it to
 * schema/config.schema.json, which the package ships. Value rules (URL forms, env var names...) stay in values.ts;
 * the CLI applies them.
 */
import { toJSONSchema } from 'zod/mini';
import { DEFAULTS, LayerSchema } from './schema.js';

/** Where editors fetch the shipped file from (npm's CDN mirror of the package). */
export const SCHEMA_URL = 'https://unpkg.com/letta-memfs-hooks/schema/config.schema.json';

export function configJsonSchema(): Record<string, unknown> {
  const schema = toJSONSchema(LayerSchema, { target: 'draft-7', io: 'input' });
  const properties = schema.properties as Record<string, Record<string, unknown>>;
  for (const [key, value] of Object.entries(DEFAULTS)) properties[key].default = value;
  return { $schema: schema.$schema, $id: SCHEMA_URL, title: 'letta-memfs-hooks config', ...schema };
}
