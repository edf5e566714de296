import type { Request } from 'express';
import { RedisUnavailableError, SpaceAuthorizationError, SpaceTokenError } from '../core';
import { signInCookieOf, type SpaceVerified } from '../config';
import { describeAgent, noteSignIn, recordSignIn, signInTokens } from '../members';
import { startLife } from '../lifetimes';
import { sessionOf } from '../session';
import { cleanText, type SpaceProfile } from '../space';
import { fingerprint } from '../store';
import type { StoredTokenSet } from '../tokens';
import { answerSignInFailed, answerUnavailable, noteSignInRefusal } from '../web';
import type { SpaceRuntime } from '../runtime';
import { audit, auditing, memberOf, type Operation, traced } from '../telemetry';
import type { SignInHost, SpaceAuthInfo, SpaceAuthenticateOptions } from './host';
import { browserOf, randomToken, setBrowserCookie } from './pending';
import { markSignInCompleted, warnRefusedCallback } from './diagnose';

type Challenge = { message: string };

function stateChallenge(reason: 'missing' | 'malformed' | 'unknown' | 'expired'): Challenge {
  switch (reason) {
    case 'missing': return { message: 'Sign-in callback has no state; start signing in again' };
    case 'malformed': return { message: 'Sign-in callback has a malformed state; start signing in again' };
    case 'expired': return { message: 'Sign-in took too long; start signing in again' };
    default: return { message: 'Sign-in state does not match a sign-in started in this browser (already used, expired, started elsewhere, or cookies are blocked); start signing in again' };
  }
}

/** Completes a sign-in on the callback: state, code exchange, profile, verify, login (span `signin.callback`). */
export function completeSignIn(strategy: SignInHost, req: Request, options: SpaceAuthenticateOptions, gate: boolean): Promise<void> {
  return traced('signin.callback', (op) => complete(strategy, req, options, gate, op));
}

async function complete(strategy: SignInHost, req: Request, options: SpaceAuthenticateOptions, gate: boolean, op: Operation): Promise<void> {
  const query = req.query as Record<string, unknown>;
  const res = req.res!;
  const runtime = strategy.runtime;
  const settings = strategy.settings;
  // The callback URL carries a code: keep it out of caches and Referer headers (RFC 9700 §4.2.4, §4.3).
  res.set({ 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' });
  const fail = (challenge: Challenge, status: number, reason: string): void => {
    runtime.emit({ event: 'signin.refused', reason, status });
    warnRefusedCallback(strategy, req, reason, status, challenge.message);
    noteSignInRefusal(req, status, challenge.message);
    refused(runtime, req, op, reason);
    if (!gate || options.failureRedirect) return strategy.fail(challenge, status);
    answerSignInFailed(req, res, status, challenge.message, strategy.signInPath);
  };
  // RFC 6749 §3.1: parameters must not be repeated. With Express's parser a repeated
  // parameter arrives as an array (or an object for `a[b]=`): refuse before anything else.
  for (const name of ['code', 'state', 'error', 'error_description']) {
    if (query[name] !== undefined && typeof query[name] !== 'string') {
      return fail({ message: `Malformed sign-in callback: "${name}" is repeated or not a plain value` }, 400, 'malformed_callback');
    }
  }
  const session = sessionOf(req)!;
  const cookie = signInCookieOf(strategy);
  const browser = browserOf(req, cookie);
  let taken;
  try {
    taken = await strategy.pending.take(browser, query.state, Date.now());
  } catch (err) {
    if (!(err instanceof RedisUnavailableError)) throw err;
    op.set('space.outcome', 'unavailable');
    runtime.emit({ event: 'redis.unavailable', reason: 'signin_callback', message: err.message });
    return answerUnavailable(req, res, 'store');
  }
  if (!taken.ok) {
    // A callback replayed by the back button of a signed-in user: just go home.
    if (gate && taken.reason !== 'missing' && typeof req.isAuthenticated === 'function' && req.isAuthenticated()) {
      return void res.redirect(String(options.successRedirect ?? '/'));
    }
    return fail(stateChallenge(taken.reason), 403, `state_${taken.reason}`);
  }
  const { signIn, remaining } = taken;
  // The browser's last pending sign-in: its cookie goes (it named nothing else).
  if (remaining === 0) setBrowserCookie(req, res, cookie, '', 0);

  if (query.error !== undefined) {
    // The state matched, so this error really comes from the sign-in this browser started.
    if (query.error === 'access_denied') return fail({ message: 'Sign-in was cancelled in Space' }, 401, 'access_denied');
    // Outside text: made one printable line, and capped, before anything uses it.
    const error = cleanText(query.error, [], 100) || 'unknown_error';
    const description = cleanText(query.error_description) || undefined;
    runtime.emit({ event: 'signin.refused', reason: 'authorization_error', error });
    refused(runtime, req, op, 'authorization_error');
    return strategy.error(new SpaceAuthorizationError(
      `Space refused the sign-in: ${error}${description ? `: "${description}"` : ''}`,
      { code: 'SPACE_AUTHORIZATION_FAILED', error, errorDescription: description },
    ));
  }
  if (typeof query.code !== 'string' || query.code === '') return fail({ message: 'Sign-in callback has no code' }, 400, 'no_code');

  let answer;
  try {
    const code = query.code;
    answer = await traced('signin.exchange', () => runtime.host.client.exchangeCode({
      code, verifier: signIn.verifier, redirectURI: signIn.redirectURI, scope: signIn.scope,
      extra: strategy.tokenParams(options) as Record<string, string>,
    }));
  } catch (err) {
    // A used, expired or mismatched code: the user can simply try again.
    if (err instanceof SpaceTokenError && err.error === 'invalid_grant') {
      const said = `${err.status ?? ''} invalid_grant${err.errorDescription ? `: "${err.errorDescription}"` : ''}`.trim();
      return fail({ message: `Sign-in did not complete: Space refused the code (${said}); start signing in again` }, 400, 'invalid_grant');
    }
    throw err;
  }
  const profile = settings.skipUserProfile
    ? ({ provider: 'space' } as SpaceProfile)
    : await traced('signin.profile', () => runtime.host.client.profile(answer.tokens.accessToken, settings.profileFields));

  // A previous sign-in in this browser session (another user's, or the same again): ended below.
  const previousGrant = runtime.session.grantOf(session);
  const previous = previousGrant ? await runtime.session.load(session).catch(() => undefined) : undefined;
  // Stored times are in Redis's clock (clock.ts), so every process reads them right.
  await runtime.clock.start();
  const shift = runtime.clock.skewToShared;
  const exchanged: StoredTokenSet = { ...answer.tokens, expiresAt: answer.tokens.expiresAt + shift, issuedAt: answer.issuedAt + shift, grant: randomToken(), version: 1 };
  // A known member's refresh token belongs to their consent, not to this browser (members/).
  const { stored, offered } = signInTokens(runtime, exchanged, profile.id);
  if (op.on) op.set('space.grant', fingerprint(stored.grant, 12));
  const verified: SpaceVerified = (err, user, info) => {
    if (err) return strategy.error(err as Error);
    if (!user) return fail((info ?? { message: 'The verify callback refused the user' }) as Challenge, 403, 'verify_refused');
    op.set('space.outcome', 'accepted');
    const authInfo: SpaceAuthInfo = { ...(info as object | undefined) };
    if (signIn.returnTo) authInfo.returnTo = signIn.returnTo;
    // The sign-in's record (its tokens) and its entry in the user's index, sent while Passport
    // stores the new session (one round trip to Redis for the three), awaited before the answer.
    let writes: Promise<unknown> | undefined;
    const writeSignIn = (): Promise<unknown> => (writes ??= Promise.all([recordSignIn(runtime, req, stored, profile.id, offered), noteSignIn(runtime, req, stored, profile.id), startLife(runtime, req, stored.grant)]));
    runtime.session.carryThroughLogIn(req, stored, signIn.returnTo, async (loginErr) => {
      if (loginErr) {
        // The session was not stored: a record written for it is ended, not left to be listed.
        if (writes) writes.then(() => runtime.end(stored.grant, req)).catch(() => undefined);
        return;
      }
      // The session now names this sign-in; its tokens are in its record, written before the
      // answer (a Redis failure here is a 503 from spaceErrorHandler, and the session is useless).
      await writeSignIn();
      // Nothing of a previous user survives: their sign-in ends here and at Space.
      if (previousGrant && previousGrant !== stored.grant) await endPrevious(runtime, req, previousGrant, previous);
      runtime.remember(stored);
      markSignInCompleted(strategy, req, res);
      runtime.emit({ event: 'signin.completed', grant: fingerprint(stored.grant, 12) });
      if (auditing(runtime)) audit(runtime, { type: 'signed_in', outcome: 'success', member: memberOf(profile), browser: describeAgent(req.get('user-agent')), grant: fingerprint(stored.grant, 12) });
    }, () => { writeSignIn().catch(() => undefined); });
    if (!gate) return strategy.success(user, authInfo);
    // Gate mode: nothing after this middleware handles the callback path, so land the
    // user on the page first asked for here.
    req.logIn(user, (loginErr?: unknown) => {
      if (loginErr) return strategy.error(loginErr as Error);
      const s = sessionOf(req);
      if (s) delete s.returnTo;
      res.redirect(signIn.returnTo ?? String(options.successRedirect ?? '/'));
    });
  };
  strategy.callVerify(req, answer.tokens, answer.params, profile, verified);
}

/** A refused callback: on its span, and in the audit trail. */
function refused(runtime: SpaceRuntime, req: Request, op: Operation, reason: string): void {
  op.set('space.outcome', 'refused');
  op.set('space.reason', reason);
  if (auditing(runtime)) audit(runtime, { type: 'sign_in_refused', outcome: 'failure', reason, browser: describeAgent(req.get('user-agent')) });
}

/** The browser's previous sign-in ends here, and at Space when it was its consent's last (or had its own refresh token). */
async function endPrevious(runtime: SpaceRuntime, req: Request, grant: string, previous: StoredTokenSet | undefined): Promise<void> {
  // Ended before the answer; revoked (when due) after it: the new sign-in does not wait on Space.
  await runtime.end(grant, req).catch(() => undefined);
  void runtime.finish(grant, { revoke: true, ttl: runtime.recordTTL(req), ...(previous ? { tokens: previous } : {}) }).catch(() => undefined);
}
