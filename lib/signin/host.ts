import type { Request } from 'express';
import type { ResolvedOptions, SpaceVerified } from '../config';
import type { SpaceRuntime } from '../runtime';
import type { SpaceProfile } from '../space';
import type { SpaceTokenSet } from '../tokens';
import type { PendingStore } from './pending';

/** Per-call options of `passport.authenticate('space', options)`, besides Passport's own. */
export interface SpaceAuthenticateOptions {
  /** Scope for this sign-in, overriding the strategy's. */
  scope?: string | string[];
  /** Where to land after sign-in (a local path); also read from `?returnTo=` on the start route. */
  returnTo?: string;
  /** Space's login UI mode for this sign-in, e.g. `'required'` to force a fresh Space login. */
  requestCredentials?: 'default' | 'required' | 'skip' | 'silent';
  /** `online` or `offline` for this sign-in. */
  accessType?: 'offline' | 'online';
  /** Gate mode: more public paths for this mount, added to the strategy's `publicPaths`. */
  publicPaths?: Array<string | RegExp>;
  /** `false` turns gate mode off for a mount made with `app.use()`. */
  gate?: boolean;
  [passportOption: string]: unknown;
}

/** What `req.authInfo` holds after a Space sign-in. */
export interface SpaceAuthInfo {
  /** The local path the sign-in was started for, if any. */
  returnTo?: string;
  [key: string]: unknown;
}

/**
 * What the sign-in steps need of the strategy: Passport's actions for this request, the
 * overridable hooks (`authorizationParams`, `tokenParams`, the verify callback), its settings
 * and runtime, and the pending sign-ins. SpaceStrategy is one; the steps never import it.
 */
export interface SignInHost {
  readonly name: string;
  readonly settings: Readonly<ResolvedOptions>;
  readonly runtime: SpaceRuntime;
  readonly pending: PendingStore;
  /** Space's authorization endpoint, normalized once. */
  readonly authURL: string;
  readonly signInPath: string;
  redirectURI(req: Request): string;
  authorizationParams(options: SpaceAuthenticateOptions): Record<string, string>;
  tokenParams(options: SpaceAuthenticateOptions): object;
  callVerify(req: Request, tokens: SpaceTokenSet, params: Record<string, unknown>, profile: SpaceProfile, done: SpaceVerified): void;
  createSignInURL(req: Request, options?: SpaceAuthenticateOptions): Promise<string>;
  // Passport's actions, set on the per-request copy of the strategy.
  success(user: Express.User, info?: object): void;
  fail(challenge: { message: string }, status: number): void;
  redirect(url: string): void;
  error(err: Error): void;
  pass(): void;
}
