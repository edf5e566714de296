import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { explainOffline, isRedisOutage } from '../core';
import { signInCookieOf } from '../config';
import { sessionOf } from '../session';
import { answerUnavailable, safeReturnTo } from '../web';
import { type Operation, traced } from '../telemetry';
import type { SignInHost, SpaceAuthenticateOptions } from './host';
import { browserOf, randomToken, setBrowserCookie, type PendingSignIn } from './pending';
import { answerIfNotKept } from './diagnose';

/**
 * Starts a sign-in: the pending sign-in (state, PKCE verifier, where to return) is stored,
 * and a session made for it saved, *before* the browser is sent to Space; if the store cannot
 * take them the answer is 503, not a redirect that could only fail on the way back. A browser
 * whose sign-in completed moments ago but did not stick gets a page naming the likely cause
 * instead of another trip to Space (diagnose.ts).
 */
export function startSignIn(strategy: SignInHost, req: Request, options: SpaceAuthenticateOptions): Promise<void> {
  return traced('signin.start', (op) => start(strategy, req, options, op));
}

async function start(strategy: SignInHost, req: Request, options: SpaceAuthenticateOptions, op: Operation): Promise<void> {
  const res = req.res!;
  res.set('Cache-Control', 'no-store');
  // A browser that signed in moments ago and is back without its sign-in would only loop.
  if (answerIfNotKept(strategy, req)) return;
  const runtime = strategy.runtime;
  try {
    const url = await strategy.createSignInURL(req, options);
    runtime.emit({ event: 'signin.started' });
    op.set('space.outcome', 'redirected');
    strategy.redirect(url);
  } catch (err) {
    if (!isRedisOutage(err)) throw err;
    explainOffline(err, runtime.settings.redis);
    op.set('space.outcome', 'unavailable');
    runtime.emit({ event: 'redis.unavailable', reason: 'signin_start', message: err instanceof Error ? err.message : String(err) });
    answerUnavailable(req, res, 'store');
  }
}

/** Records a pending sign-in and returns the `/oauth/auth` URL; see `SpaceStrategy.createSignInURL`. */
export async function createSignInURL(strategy: SignInHost, req: Request, options: SpaceAuthenticateOptions): Promise<string> {
  if (!sessionOf(req)) throw new Error('SpaceStrategy needs sessions: mount express-session before starting a sign-in');
  const settings = strategy.settings;
  const redirectURI = strategy.redirectURI(req);
  const verifier = randomToken();
  const scopeOption = options.scope ?? settings.scope;
  const scope = Array.isArray(scopeOption) ? scopeOption.join(' ') : scopeOption;
  const signIn: PendingSignIn = { verifier, redirectURI, scope, createdAt: Date.now() };
  const returnTo = safeReturnTo(options.returnTo ?? (req.query as Record<string, unknown>).returnTo);
  if (returnTo) signIn.returnTo = returnTo;
  // The browser's pending sign-ins are named by a cookie of its own (pending.ts): no session is
  // stored for a sign-in that has not happened yet.
  const cookie = signInCookieOf(strategy);
  const browser = browserOf(req, cookie) ?? randomToken();
  const state = await strategy.pending.add(browser, signIn);
  setBrowserCookie(req, req.res!, cookie, browser, settings.stateMaxAge);
  // One query string, built once (each `url.searchParams.set` re-serializes the whole URL).
  const query = new URLSearchParams(strategy.authorizationParams(options));
  query.set('response_type', 'code');
  query.set('client_id', settings.clientID);
  query.set('redirect_uri', redirectURI);
  query.set('scope', scope);
  query.set('state', state);
  // Space treats a missing code_challenge_method as "plain" (docs/space-api.md#pkce): always say S256.
  query.set('code_challenge', createHash('sha256').update(verifier).digest('base64url'));
  query.set('code_challenge_method', 'S256');
  return `${strategy.authURL}?${query.toString()}`;
}

