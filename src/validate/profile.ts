/**
 * Whose rules a tree is checked by: the consumer of the checkout (issue 16). A Letta V1 server reads every file of
 * the repos it syncs (client checkouts of a server agent, server repos, `serve`); Letta Code alone reads a
 * local-backend checkout, by the rules of its layout. The safety rules (names, modes, sizes) apply to both.
 */
import type { Layout } from './letta-code-rules.js';

export type Profile = { consumer: 'letta-server' } | { consumer: 'letta-code'; layout: Layout };

export const SERVER_PROFILE: Profile = { consumer: 'letta-server' };

export function describeProfile(p: Profile): string {
  return p.consumer === 'letta-server' ? "the Letta server's rules" : `Letta Code's rules for its ${p.layout} layout`;
}
