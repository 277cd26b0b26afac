// Entry point of the service's pre-receive hook (see hooks-dir.ts); reads git's stdin, exits with the verdict.
import { preReceive } from './pre-receive.js';

const chunks: Buffer[] = [];
for await (const c of process.stdin) chunks.push(c as Buffer);
process.exitCode = await preReceive(Buffer.concat(chunks).toString('utf8'), process.env, process.cwd());
