/**
 * Type augmentations for consumers: Passport's `authenticate()` options learn the strategy's
 * per-call options, and express-session's `SessionData` learns `req.session.space`.
 * Types only: this file emits no code. See docs/typescript.md.
 */
import type { SpaceAuthenticateOptions } from './signin';
import type { SpaceTokenSet } from './tokens';

/**
 * What the library keeps in `req.session.space` (under the default `sessionKey`). It belongs
 * to the library: read the tokens through `req.spaceTokens` (after `spaceTokenRefresh()`) or
 * `strategy.tokensOf(req.session)`, and do not write here.
 */
export interface SpaceSessionData {
  /**
   * Which sign-in this session is: its grant id (a random id, the key of the sign-in's record
   * in Redis, where the tokens are), and the version, expiry and issue time of the tokens it was
   * signed in with (renewals change the record, never the session: the current expiry is
   * `req.spaceTokens.expiresAt`). No token is in the session. Sessions written by 0.1 held the tokens
   * themselves (sealed with `encryptionKeys`); those are still read, and become references at
   * their next renewal. Pending sign-ins are not in the session either: they are stored in
   * Redis before the redirect.
   */
  tokens?: { grant: string; version: number; expiresAt: number; issuedAt: number }
    | (SpaceTokenSet & { issuedAt: number; grant: string; version: number })
    | { sealed: string; grant: string; version: number; expiresAt: number; issuedAt: number };
}

declare module 'passport' {
  // Merged into Passport's own options, so `passport.authenticate('space', { returnTo })`
  // type-checks. Listed one by one (not `extends`): SpaceAuthenticateOptions has an index
  // signature that would switch off excess-property checks for every strategy.
  interface AuthenticateOptions {
    /** Space: where to land after sign-in (a local path). */
    returnTo?: SpaceAuthenticateOptions['returnTo'];
    /** Space: the login UI mode for this sign-in, e.g. `'required'`. */
    requestCredentials?: SpaceAuthenticateOptions['requestCredentials'];
    /** Space: `online` or `offline` for this sign-in. */
    accessType?: SpaceAuthenticateOptions['accessType'];
    /** Space gate mode: public paths for this mount, added to the strategy's. */
    publicPaths?: SpaceAuthenticateOptions['publicPaths'];
    /** Space: `false` turns gate mode off for a mount made with `app.use()`. */
    gate?: SpaceAuthenticateOptions['gate'];
    /** space-bearer: a request without an `Authorization: Bearer` header is passed on, not refused. */
    optional?: boolean;
  }
}

// express-session's types are an optional peer: without them in the program this
// augmentation has nothing to merge into (TS2664). The build (scripts/esm-wrappers.js) puts a
// `@ts-ignore` above it in dist/augment.d.ts, so a consumer without @types/express-session
// still compiles, even with skipLibCheck off; with them installed, it applies.
declare module 'express-session' {
  interface SessionData {
    /** Owned by passport-jetbrains-space (default `sessionKey`); see {@link SpaceSessionData}. */
    space?: SpaceSessionData;
  }
}
