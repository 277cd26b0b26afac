// Writes schema/config.schema.json (shipped in the package, for editors) from the zod config shape compiled by tsc;
// test/unit/config-json-schema.test.ts fails when the committed file and the shape disagree.
//
//   node scripts/build-schema.mjs      (part of `npm run build`, after tsc)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configJsonSchema } from '../dist/core/config/json-schema.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
fs.mkdirSync(path.join(ROOT, 'schema'), { recursive: true });
fs.writeFileSync(path.join(ROOT, 'schema', 'config.schema.json'), `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
