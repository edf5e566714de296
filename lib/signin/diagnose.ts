import type { Request, Response } from 'express';
import { warnOnce } from '../core';
import { signInCookieOf } from '../config';
import { passportSessionMissing, requestHasUser, sessionOf } from '../session';
import { requestHost, sendError } from '../web';
import type { SignInHost } from './host';
import { browserOf, setBrowserCookie } from './pending';

/**
 * Sign-ins that fail for a reason the operator can fix (the first hour's usual mistakes) are told
 * in one warning line without DEBUG, besides the answer the browser gets: a debug line alone is
 * a silent failure for whoever did not turn it on.
 */

/** A host name as it may appear in a log line: the characters of a host and port, at most 100. */
function shownHost(req: Request): string {
  const host = requestHost(req);
  return /^[A-Za-z0-9.:[\]-]{1,100}$/.test(host) ? host : '(an unusual Host header)';
}

/** Refusals worth a warning: the browser or the set-up is at fault, not the user's choice. */
const WORTH_TELLING = new Set(['state_missing', 'state_malformed', 'state_unknown', 'state_expired', 'malformed_callback', 'no_code', 'invalid_grant']);

/**
 * A refused sign-in callback, in one line (at most one a minute for each reason): what happened
 * and the likely fix. A state nobody started in this browser, arriving without the browser's
 * sign-in cookie, is most often a sign-in started on another host name than the callback's.
 */
export function warnRefusedCallback(strategy: SignInHost, req: Request, reason: string, status: number, message: string): void {
  if (!WORTH_TELLING.has(reason)) return;
  let hint = '';
  if (reason === 'state_unknown' && browserOf(req, signInCookieOf(strategy)) === undefined) {
    const host = shownHost(req);
    hint = ` The callback came without the browser's sign-in cookie (${signInCookieOf(strategy)}). The usual cause: the sign-in was started on another host name than this callback's (${host}), `
      + `e.g. browsing http://localhost while callbackURL says 127.0.0.1: cookies are kept per host name, so browse the app on ${host} (or make callbackURL the host you browse). `
      + 'Otherwise the browser blocks cookies, or the link was used twice.';
  } else if (reason === 'state_expired') {
    hint = ` The sign-in took longer than stateMaxAge (${strategy.settings.stateMaxAge} ms).`;
  }
  warnOnce('PASSPORT_JETBRAINS_SPACE_SIGN_IN_REFUSED', `a sign-in callback was refused (${reason}, ${status}): ${message}.${hint}`, { every: 60_000, key: `refused:${reason}` });
}

/**
 * How long after a completed sign-in a browser that is sent to Space again, still not signed in,
 * shows that the sign-in did not stick (the next trip to Space would loop), ms.
 */
export const NOT_KEPT_WINDOW = 10_000;

/** The cookie that marks a browser's completed sign-in: the time it completed, nothing else. */
const doneCookieOf = (strategy: Pick<SignInHost, 'name' | 'settings'>): string => `${signInCookieOf(strategy)}.done`;

/** A cookie's value in this request, or undefined. */
function cookieValue(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The sign-in of this browser has just completed (the session is stored): marked with a cookie
 * holding the time, living {@link NOT_KEPT_WINDOW}, so that the next trip to Space can tell a
 * sign-in that did not stick.
 */
export function markSignInCompleted(strategy: Pick<SignInHost, 'name' | 'settings'>, req: Request, res: Response): void {
  setBrowserCookie(req, res, doneCookieOf(strategy), String(Date.now()), NOT_KEPT_WINDOW);
}

/** Removes the mark (at sign-out, and once the loop was answered), so signing in again right away is a real try. */
export function forgetSignInCompleted(strategy: Pick<SignInHost, 'name' | 'settings'>, req: Request, res: Response): void {
  if (cookieValue(req, doneCookieOf(strategy)) !== undefined) setBrowserCookie(req, res, doneCookieOf(strategy), '', 0);
}

const PASSPORT_SESSION_FIX = 'Mount it after express-session and before your routes: app.use(session(...)), app.use(passport.initialize()), app.use(passport.session()).';

/**
 * The session holds a signed-in user but the request has none: passport.session() did not run. Said
 * once per process, wherever the library sees it first.
 */
export function noticeMissingPassportSession(req: Request): void {
  if (!passportSessionMissing(req)) return;
  warnOnce('PASSPORT_JETBRAINS_SPACE_NO_PASSPORT_SESSION', `a signed-in browser came back, but req.user is not set: passport.session() is not mounted (or comes after this route). ${PASSPORT_SESSION_FIX}`);
}

/** True when the request carries a cookie of express-session's signed form (`s:<id>.<signature>`), whatever its name. */
function sessionCookieCameBack(req: Request): boolean {
  const header = req.headers.cookie;
  if (typeof header !== 'string') return false;
  return header.split(';').some((part) => {
    const value = part.slice(part.indexOf('=') + 1).trim();
    try {
      return /^s:[^.]+\..+/.test(decodeURIComponent(value));
    } catch {
      return false;
    }
  });
}

/**
 * Why a completed sign-in did not come back with the browser, from what this request shows; or
 * undefined when it came back and has simply ended since (signed out, ended elsewhere, replaced
 * by a new session): not a loop.
 */
function notKeptCause(strategy: SignInHost, req: Request): { key: string; text: string } | undefined {
  if (passportSessionMissing(req)) {
    return { key: 'no_passport_session', text: `passport.session() is not mounted (or comes after this route): the session holds the signed-in user, but req.user is not set. ${PASSPORT_SESSION_FIX}` };
  }
  const session = sessionOf(req);
  if (strategy.runtime.session.grantOf(session) !== undefined) {
    return { key: 'no_user', text: 'the session came back, but Passport found no user in it: deserializeUser answered no user (false or null), so Passport dropped it. Make deserializeUser give back what serializeUser stored.' };
  }
  // A session cookie came back: the cookie works, and the sign-in ended since (or its session was
  // lost in the store): another trip to Space is what the browser needs.
  if (sessionCookieCameBack(req)) return undefined;
  const cookie = session?.cookie as { secure?: unknown } | undefined;
  if (cookie?.secure === true && !req.secure) {
    return { key: 'secure_cookie', text: 'the session cookie is Secure (cookie.secure: true), but this request came over plain HTTP, so express-session never set it. '
      + 'Behind a proxy that terminates TLS, tell Express to trust it: app.set(\'trust proxy\', 1). On http://localhost, use cookie.secure: \'auto\' (or false).' };
  }
  return { key: 'no_session', text: 'the browser did not bring back the session the sign-in stored. Check express-session\'s cookie (sameSite: \'lax\', not \'strict\'; its domain and path), '
    + 'that the session store saves, and that every instance of the app shares the store and the session secret.' };
}

/**
 * Before sending a browser to Space: when it completed a sign-in moments ago and is still not
 * signed in, that sign-in did not stick, and another trip to Space would only loop. Answers a
 * 500 page naming the likely cause instead (and says it once in a warning line), and removes the
 * mark so that "Try again" really tries again. Returns true when it answered.
 */
export function answerIfNotKept(strategy: SignInHost, req: Request): boolean {
  noticeMissingPassportSession(req);
  if (requestHasUser(req)) return false;
  const completedAt = Number(cookieValue(req, doneCookieOf(strategy)) ?? NaN);
  const age = Date.now() - completedAt;
  if (!Number.isFinite(completedAt) || age < -1000 || age > NOT_KEPT_WINDOW) return false;
  const res = req.res!;
  forgetSignInCompleted(strategy, req, res);
  const cause = notKeptCause(strategy, req);
  if (!cause) return false;
  warnOnce('PASSPORT_JETBRAINS_SPACE_SIGN_IN_NOT_KEPT', `a browser that completed a sign-in ${Math.max(0, Math.round(age / 1000))} s ago was about to be sent to Space again, still not signed in: ${cause.text}`, { key: `not-kept:${cause.key}` });
  sendError(req, res, 500, 'sign_in_not_kept', `The sign-in with Space completed, but this app did not keep it, so sending you to Space again would only loop. Likely cause, for the app's developers: ${cause.text}`, {
    title: 'Signed in, but the sign-in was not kept',
    link: { href: strategy.signInPath, text: 'Try again' },
  });
  return true;
}
