import type { HookHandler } from '../../hooks/context.js';

// Thin switch on the role recorded by init; the work lives in src/server (and src/client).
const handle: HookHandler = async (ctx) => {
  if (ctx.settings.role === 'server') return (await import('../../server/letta/on-main-moved.js')).onMainMoved(ctx);
  // Client: hooks/shim.sh handles post-merge in shell (touches letta-memfs/last-post-merge for `status`) and never starts node;
  // a pull or checkout changes nothing outside the checkout, so there is nothing else to do.
  return 0;
};
export default handle;
