import type { Request } from 'express';
import { answerUnauthenticated, isNavigation, isPublicPath, requestPath, safeReturnTo } from '../web';
import type { SpaceAuthenticateOptions } from './host';
import { noticeMissingPassportSession } from './diagnose';

/** What the gate needs of the strategy: Passport's actions and the sign-in steps. */
export interface GateHost {
  readonly callbackPath: string;
  readonly signInPath: string;
  readonly publicPaths: ReadonlyArray<string | RegExp>;
  pass(): void;
  redirect(url: string): void;
  completeSignIn(req: Request, options: SpaceAuthenticateOptions, gate: boolean): void;
  startSignIn(req: Request, options: SpaceAuthenticateOptions): void;
}

/**
 * Gate mode, for `app.use(passport.authenticate('space'))`: signed-in requests (by a session,
 * or by a strategy mounted before, such as 'space-bearer') and public paths pass untouched;
 * the callback path completes the sign-in in place and lands on the URL first asked for;
 * `signInPath` starts a sign-in; other page navigations go to Space (remembering where they
 * were going); anything else (API calls, images, fetch()) gets 401 JSON.
 */
export function gate(h: GateHost, req: Request, options: SpaceAuthenticateOptions): void {
  const path = requestPath(req);
  const res = req.res!;
  const signedIn = (typeof req.isAuthenticated === 'function' && req.isAuthenticated()) || Boolean((req as { user?: unknown }).user);
  if (!signedIn) noticeMissingPassportSession(req);
  if (path === h.callbackPath) return h.completeSignIn(req, options, true);
  if (path === h.signInPath && (req.method === 'GET' || req.method === 'HEAD')) {
    const returnTo = safeReturnTo((req.query as Record<string, unknown>).returnTo);
    if (signedIn) return void res.redirect(returnTo ?? String(options.successRedirect ?? '/'));
    return h.startSignIn(req, { ...options, returnTo });
  }
  if (signedIn) return h.pass();
  const extra = (options.publicPaths as Array<string | RegExp> | undefined) ?? [];
  if (isPublicPath(path, extra.length ? [...h.publicPaths, ...extra] : h.publicPaths)) return h.pass();
  if (!isNavigation(req)) return answerUnauthenticated(res, h.signInPath);
  h.startSignIn(req, { ...options, returnTo: req.originalUrl });
}
