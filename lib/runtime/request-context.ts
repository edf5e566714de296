import type { Request } from 'express';
import type { SpaceStrategy } from '../strategy';
import type { SpaceTokenSet } from '../tokens/token-set';

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

const kStrategy = Symbol.for('passport-jetbrains-space.strategy');

/** Remembers which strategy serves this request (spaceApi, spaceErrorHandler read it). */
export function bindRequest(req: Request, strategy: SpaceStrategy): void {
  (req as unknown as Record<symbol, SpaceStrategy>)[kStrategy] = strategy;
}

export function strategyOf(req: Request): SpaceStrategy | undefined {
  return (req as unknown as Record<symbol, SpaceStrategy | undefined>)[kStrategy];
}
