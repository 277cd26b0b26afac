import type { HookHandler } from '../../hooks/context.js';

// Thin switch on the role recorded by init; the work lives in src/server and src/client.
const handle: HookHandler = async (ctx) => {
  if (ctx.settings.role === 'server') return (await import('../../server/letta/on-main-moved.js')).onMainMoved(ctx);
  // A local-backend checkout (only those get this hook): push the new commit of main in the background.
  if (ctx.settings.backend === 'local' && ctx.repo.workTree) {
    await (await import('../../client/background-push.js')).startBackgroundPush(ctx.repo.workTree, ctx.stateDir);
  }
  return 0;
};
export default handle;
