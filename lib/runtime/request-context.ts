import type { Request } from 'express';
import type { SpaceTokenSet } from '../tokens';
import type { SpaceRuntime } from './runtime';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /**
       * The signed-in user's Space tokens (set by spaceTokenRefresh); `expiresAt` in this
       * process's clock. The access token is valid for at least the skew (capped at half the
       * token's lifetime), except: while Space or Redis is away, a token inside the skew but not
       * yet expired is handed out rather than no answer; and within 1 s of its issue a token is
       * handed out as it is (a Space answering `expires_in: 0` is not asked again per request).
       * Removed once the sign-in ends (a renewal or spaceApi signed the user out).
       */
      spaceTokens?: SpaceTokenSet;
    }
  }
}

const kRuntime = Symbol.for('passport-jetbrains-space.runtime');

/** Remembers which strategy's runtime serves this request (spaceApi, spaceSessions, spaceErrorHandler read it). */
export function bindRequest(req: Request, runtime: SpaceRuntime): void {
  (req as unknown as Record<symbol, SpaceRuntime>)[kRuntime] = runtime;
}

/** The runtime bound to this request by spaceTokenRefresh (or spaceSignOut), if any. */
export function runtimeOf(req: Request): SpaceRuntime | undefined {
  return (req as unknown as Record<symbol, SpaceRuntime | undefined>)[kRuntime];
}
