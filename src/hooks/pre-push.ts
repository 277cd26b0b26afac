import type { HookHandler } from './context.js';

// Placeholder until the role modules land.
const handle: HookHandler = async () => 0;
export default handle;
