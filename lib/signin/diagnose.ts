import type { Request } from 'express';
import { warnOnce } from '../core';
import { signInCookieOf } from '../config';
import { requestHost } from '../web';
import type { SignInHost } from './host';
import { browserOf } from './pending';

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
