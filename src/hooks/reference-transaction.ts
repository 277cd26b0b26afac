import type { HookHandler } from './context.js';

// Thin switch on the role recorded by init; the work lives in src/server (and src/client).
const handle: HookHandler = async (ctx) => {
  if (ctx.settings.role === 'server') return (await import('../server/letta/on-main-moved.js')).onMainMoved(ctx);
  return 0;
};
export default handle;
