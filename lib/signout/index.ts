/**
 * Ending sign-ins: `spaceSignOut` (this browser), `spaceSessions(req)` (list and end a member's
 * sessions) and `endSpaceSessionsOf` (for operators).
 */
export { endSpaceSessionsOf, spaceSessions } from './everywhere';
export type { SpaceSessionInfo, SpaceSessions } from './everywhere';
export { spaceSignOut } from './sign-out';
export type { SpaceSignOutOptions } from './sign-out';
