import { clientPrePush } from '../../client/pre-push.js';
import type { HookHandler } from '../../hooks/context.js';

// A thin switch on role; the client checks what leaves its checkout (src/client/pre-push.ts).
const handle: HookHandler = async (ctx) => {
  if (ctx.settings.role === 'client') {
    return clientPrePush({ args: ctx.args, stdin: ctx.stdin, repo: ctx.repo, stateDir: ctx.stateDir, settings: ctx.settings });
  }
  return 0;
};
export default handle;
