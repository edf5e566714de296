/**
 * Sign-in and sign-out wiring: the gate that makes every page after it need a signed-in
 * user, and the CSRF-protected sign-out.
 */
import express, { type Express, type RequestHandler } from 'express';
import type { Passport } from 'passport';
import { spaceSignOut, type SpaceStrategy } from 'passport-jetbrains-space';
import { requireCsrf } from './security';

/**
 * Paths anyone may see (the strategy's `publicPaths`); everything else behind the gate
 * needs a signed-in user. Static files and /healthz are served before the session, so they
 * never reach the gate; they are listed for clarity.
 */
export const PUBLIC_PATHS = ['/', '/healthz', '/static/', '/auth/signout'];

/** Where Space sends the browser back; register `<your app>/auth/space/callback` in Space. */
export const CALLBACK_PATH = '/auth/space/callback';

/**
 * Gate mode: `app.use(passport.authenticate('space'))`. Signed-in requests and public paths
 * pass; the callback is handled in place; `/auth/space` (the strategy's `signInPath`)
 * starts a sign-in; other page requests go to Space and come back to where they were going;
 * API requests get 401 JSON. A sign-in that fails lands on the start page with the reason.
 */
export function signInGate(passport: InstanceType<typeof Passport>): RequestHandler {
  return passport.authenticate('space', { successRedirect: '/dashboard', failureRedirect: '/', failureMessage: true });
}

/**
 * `POST /auth/signout`, with the session's CSRF token: revokes the sign-in at Space, marks its
 * tokens dead in Redis, ends the Passport login, destroys the session, lands on `/`.
 */
export function mountSignOut(app: Express, strategy: SpaceStrategy): void {
  // Redis, the key prefix and the cookie's name come from the strategy.
  const signOut = spaceSignOut({ strategy, redirectTo: '/' });
  app.post('/auth/signout',
    (req, res, next) => {
      // Already signed out (the session expired, another tab signed out): nothing to protect.
      if (!req.user) return void res.redirect(303, '/');
      next();
    },
    express.urlencoded({ extended: false, limit: '4kb' }),
    requireCsrf,
    signOut);
}
