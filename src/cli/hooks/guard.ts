// The guard every installed hook runs instead of the runtime's entry (hooks/shim.sh: `node -e <this, built as
// dist/runtime/guard.cjs and embedded in the shim> <runtime dir> <entry> <hook> <git's args...>`): it loads the
// entry only when install/runtime-trust.ts finds the runtime trusted, else says so with the fix and does not run it:
// a pre-push exits 1 (the push is refused); other hooks exit 0, because git makes a post-checkout's status the
// checkout's own, and they refuse nothing. It is embedded in the hook file, not read from the runtime, so an
// altered runtime cannot vouch for itself.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { runtimeProblem } from '../../install/runtime-trust.js';

const [runtimeDir, entry, hook, ...args] = process.argv.slice(1);
const problem = runtimeProblem(runtimeDir, process.getuid!());
if (problem) {
  const self = process.env.LMH_SELF || 'letta-memfs-hooks';
  const what = hook === 'pre-push' ? 'push refused' : `${hook} not run`;
  // console.error adds the newline: a "\n" in the source would minify to a raw one, splitting the hook's argv.
  console.error(`letta-memfs-hooks: ${what}: the hook runtime ${runtimeDir} is not trusted: ${problem} (fix: re-run ${self} init)`);
  process.exit(hook === 'pre-push' ? 1 : 0);
}
// The entry reads `node <entry> <hook> <args...>`.
process.argv = [process.argv[0], entry, hook, ...args];
if (entry.endsWith('.cjs')) require(path.resolve(entry));
else void import(pathToFileURL(entry).href);
