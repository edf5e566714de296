/**
 * Memory bounds of a long-running emulator: how long expired state is kept, how often it is
 * swept, and the `stats()` figures a test can check them with.
 *
 * What the emulator forgets, and when (all on the emulator clock, so `setClockOffset` moves it):
 * - authorization codes, {@link RETAIN_EXPIRED_MS} after they expire (until then a replayed code
 *   still revokes what it produced, and an expired one still says "expired");
 * - access-token records, that long after the token's `exp` (until then a token keeps its exact
 *   error, e.g. "Access token has expired" rather than "Authentication required");
 * - grants that can issue nothing more (revoked, or without a refresh token), that long after
 *   their last access token expired or they were revoked;
 * - PKCE verifier digests (for the "used before" warning), that long after they were seen;
 * - rotated-out refresh tokens beyond the newest {@link MAX_ROTATED_OUT_PER_GRANT} of a grant.
 * A grant with a live refresh token is kept: refresh tokens do not expire in the emulator.
 * The request log is a ring of `maxRecordedRequests` entries (requests.ts).
 */

/** How long expired codes, tokens and grants are remembered: 5 minutes. */
export const RETAIN_EXPIRED_MS = 5 * 60 * 1000;

/** A sweep runs at most this often (emulator clock), when something new is issued. */
export const SWEEP_INTERVAL_MS = 10 * 1000;

/** Rotated-out refresh tokens remembered per grant, for strict-rotation replay detection. */
export const MAX_ROTATED_OUT_PER_GRANT = 100;

/** What the emulator currently holds in memory; see `SpaceEmulator.stats()`. */
export interface SpaceEmulatorStats {
  /** Requests since start or the last `resetRequests()`, retained or not. */
  requestsSeen: number;
  /** Requests retained in the log (at most `maxRecordedRequests`). */
  requestsRetained: number;
  /** Authorization codes remembered (live, used or recently expired). */
  codes: number;
  /** Grants (token families) remembered. */
  grants: number;
  /** Refresh tokens remembered, live and rotated out. */
  refreshTokens: number;
  /** Access-token records remembered (live or recently expired). */
  accessTokens: number;
  /** PKCE verifier digests remembered. */
  verifiers: number;
}

/** Decides when the next sweep is due. A clock set back (negative offset) makes one due at once. */
export class SweepSchedule {
  private last = Number.NEGATIVE_INFINITY;

  /** True, and marks the sweep done, if a sweep is due at `now`. */
  due(now: number): boolean {
    if (now >= this.last && now < this.last + SWEEP_INTERVAL_MS) return false;
    this.last = now;
    return true;
  }
}
