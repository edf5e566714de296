/**
 * Makes transparent token renewal visible: how many renewals this server process did (from
 * spaceTokenRefresh's `onEvent`) and how many this session has seen (a new access token,
 * whichever process renewed it). Nothing here stores or shows a token.
 */
import type { Request, RequestHandler } from 'express';
import type { SpaceTokenEvent } from 'passport-jetbrains-space';

/** Counts of spaceTokenRefresh events in this process, for all users. */
export class RenewalStats {
  renewed = 0;
  adopted = 0;
  failed = 0;
  lastEvent: { event: SpaceTokenEvent['event']; at: number } | undefined;

  /** Pass as `spaceTokenRefresh({ onEvent })`; `log` gets one line per event. */
  listener(log?: (line: string) => void): (event: SpaceTokenEvent) => void {
    return (event) => {
      if (event.event === 'token.refreshed') this.renewed += 1;
      else if (event.event === 'token.adopted') this.adopted += 1;
      else this.failed += 1;
      this.lastEvent = { event: event.event, at: Date.now() };
      // Events never carry a token or a session id, so they are safe to log as they are.
      log?.(`${event.event}${event.grant ? ` grant=${event.grant}` : ''}${event.reason ? ` reason=${event.reason}` : ''}${event.message ? ` (${event.message})` : ''}`);
    };
  }
}

/** What the session remembers about its tokens: times and a count, no token. */
export interface TokenWatch {
  /** Expiry of the access token last seen by this session, epoch ms. */
  expiresAt: number;
  /** When this session first saw that token, epoch ms (about when it was issued). */
  seenAt: number;
  /** When this session first saw a token, epoch ms (about when the user signed in). */
  since: number;
  /** New access tokens this session received since sign-in. */
  renewals: number;
  lastRenewalAt?: number;
}

interface WatchSession {
  tokenWatch?: TokenWatch;
}

/** Updates the session's {@link TokenWatch} from `req.spaceTokens`; returns it. */
export function noteTokens(req: Request): TokenWatch | undefined {
  const session = req.session as unknown as WatchSession | undefined;
  const expiresAt = req.spaceTokens?.expiresAt;
  if (!session || expiresAt === undefined) return undefined;
  const watch = session.tokenWatch;
  const now = Date.now();
  if (!watch) {
    session.tokenWatch = { expiresAt, seenAt: now, since: now, renewals: 0 };
  } else if (expiresAt > watch.expiresAt) {
    // A later expiry means a new access token: a renewal, here or in another process.
    session.tokenWatch = { ...watch, expiresAt, seenAt: now, renewals: watch.renewals + 1, lastRenewalAt: now };
  }
  return session.tokenWatch;
}

/** Middleware form of {@link noteTokens}; mount after spaceTokenRefresh. */
export function watchTokens(): RequestHandler {
  return (req, _res, next) => {
    noteTokens(req);
    next();
  };
}
