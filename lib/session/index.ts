/**
 * The library's part of express-session: `req.session`, the one reader and writer of the library's
 * session field (which names a sign-in, holds no token), Passport's login hooks, and the guard
 * around the session store.
 */
export { destroySession, sessionLife, sessionOf } from './session';
export { MOUNT_ORDER, passportSessionMissing, requestHasUser, sessionHoldsUser } from './passport';
export { SessionState } from './state';
export { guardStore } from './store-guard';
