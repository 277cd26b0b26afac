import type { HookHandler } from '../../hooks/context.js';

// Server role only: in a local-backend checkout (the client role's only use of this hook) hooks/shim.sh starts the
// background push itself and never reaches node.
const handle: HookHandler = async (ctx) => {
  if (ctx.settings.role === 'server') return (await import('../../server/letta/on-main-moved.js')).onMainMoved(ctx);
  return 0;
};
export default handle;
