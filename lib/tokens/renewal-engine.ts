import { fingerprint, type Keys, type KV, type SharedClock } from '../store';
import { dropWhileFirst, isSpaceError, PER_PROCESS_MAX, SpaceTokenError, type SpaceTokenEvent, trimOldest } from '../core';
import { LOCK_MARGIN, pauseAfterFailure } from '../config';
import type { ConsentStore } from './consents';
import { isEnded, type RecordStore, type SignInRecord } from './records';
import { adoptFromConsent, isFresh, mergeRenewed, type SpaceTokenSet, type StoredTokenSet } from './token-set';
import { describeRenewal, joinRenewal, traced, trackRenewal } from '../telemetry';

/** What a renewal ended in. */
export type Outcome =
  | { kind: 'fresh'; tokens: StoredTokenSet; refreshed: boolean }
  | { kind: 'ended'; reason: string }
  | { kind: 'unavailable'; retryAfter: number; reason: string };

export interface RenewalSettings { skew: number; lockTTL: number; redisTimeout: number; retryDelay: number; maxRetryAfter: number }

/** What the engine needs from Space: a refresh, and a revocation for tokens nobody may keep. */
export interface Refresher {
  refresh(refreshToken: string, options: { scope?: string; signal?: AbortSignal }): Promise<SpaceTokenSet>;
  revokeRefreshToken(accessToken: string, options: { signal?: AbortSignal }): Promise<void>;
}

/** Consent ids are `c:<hash>`; a sign-in's grant is base64url, which has no colon. */
export function isConsentId(id: string): boolean {
  return id.startsWith('c:');
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.());
const MAX_TRACKED = PER_PROCESS_MAX;
/** News of a sign-in is kept 1 min, twice the longest a check is trusted (runtime.ts): then Redis is asked anyway. */
const NEWS_KEPT = 60_000;

/**
 * The renewal engine, with no Express in it: renews each sign-in's tokens at most once at a
 * time — in this process through a shared promise, across processes through a short Redis
 * lock whose waiters are woken by the winner's announcement (polling is the fallback) — and
 * keeps versioned records so that an older copy never wins over a newer one.
 *
 * - The lock outlives the refresh: everything done under it is timed from the moment the lock
 *   was asked for (before Redis set it, so before it can expire), and must end `LOCK_MARGIN`
 *   before `lockTTL` runs out, the write of the result included: a slow read under the lock
 *   leaves less time to Space, or none (then Space is not asked). `lockTTL` must hold every step
 *   at its own deadline (settings.ts). So two refreshes with one refresh token cannot happen,
 *   even with a Space that rotates refresh tokens.
 * - The write's answer counts: a renewal Redis refused (a newer version, or a sign-out mark)
 *   is neither reported nor used; tokens minted after a sign-out are revoked at Space.
 * - Every failed renewal pauses what renewed, in every process (a key in Redis next to its
 *   record): a member's consent (so every sign-in of that member waits, as they share its
 *   refresh token), or a sign-in with a refresh token of its own; no other member's sign-ins.
 *   Space is not asked again for it before `retryDelay` (at least 1 s), or Space's
 *   `Retry-After` when that is longer, capped at `maxRetryAfter`. Whatever Space answers (a
 *   `Retry-After: 0`, a date in the past, a 401, a proxy's HTML page), a burst of requests with
 *   an expired token is one token request.
 * - A renewal Space answered but Redis could not store is kept and served from this process,
 *   and written as soon as Redis answers again.
 */
export class RenewalEngine {
  private readonly inFlight = new Map<string, Promise<Outcome>>();
  private readonly unsaved = new Map<string, { tokens: StoredTokenSet; until: number; lock: string; ttl: number }>();
  private readonly pauses = new Map<string, number>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private flushTimer: NodeJS.Timeout | undefined;
  private subscribed: Promise<boolean> | undefined;
  /** What this process heard of sign-ins in the last NEWS_KEPT ms: ended, or renewed to a version. */
  readonly news = new Map<string, { ended: boolean; version: number; at: number }>();

  constructor(
    private readonly records: RecordStore,
    private readonly consents: ConsentStore,
    private readonly kv: KV,
    private readonly keys: Keys,
    private readonly space: Refresher,
    private readonly settings: RenewalSettings,
    private readonly emit: (event: SpaceTokenEvent) => void,
    private readonly clock: SharedClock,
  ) {}

  /** Listens to other processes' announcements; false when that is not possible (then: polling). */
  listen(): Promise<boolean> {
    if (!this.subscribed) {
      this.subscribed = this.kv.subscribe(this.keys.channel, (message) => this.hear(message)).then(() => true, () => {
        this.subscribed = undefined; // Try again later.
        return false;
      });
    }
    return this.subscribed;
  }

  private hear(message: string): void {
    const [kind, grant, version] = message.split(' ');
    if (!grant || (kind !== 'e' && kind !== 'r')) return;
    const at = Date.now();
    const known = this.news.get(grant);
    if (kind === 'e' || !known || known.version < Number(version)) {
      this.news.delete(grant); // moved to the end: the oldest news is first, and goes first
      this.news.set(grant, kind === 'e' ? { ended: true, version: Number.MAX_SAFE_INTEGER, at } : { ended: false, version: Number(version), at });
    }
    dropWhileFirst(this.news, (n) => at - n.at > NEWS_KEPT);
    trimOldest(this.news, MAX_TRACKED);
    for (const wake of this.waiters.get(grant) ?? []) wake();
  }

  private announce(kind: 'r' | 'e', grant: string, version: number): void {
    this.hear(`${kind} ${grant} ${version}`);
    this.kv.publish(this.keys.channel, `${kind} ${grant} ${version}`).catch(() => undefined);
  }

  /** Waits until the lock holder announces, or `ms` passes. */
  private waitForNews(grant: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(grant);
      if (!set) this.waiters.set(grant, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        set!.delete(done);
        if (set!.size === 0) this.waiters.delete(grant);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }

  /**
   * Marks a sign-in as ended everywhere: its record can never be written again. Answers the
   * record as it was just before (its newest tokens, for a revocation).
   */
  async end(grant: string, ttl: number, lockToken = ''): Promise<SignInRecord | undefined> {
    const before = await this.records.end(grant, ttl, lockToken);
    this.unsaved.delete(grant);
    this.announce('e', grant, Number.MAX_SAFE_INTEGER);
    return before;
  }

  /**
   * Fresh tokens for this sign-in, renewing once for everyone who asks at the same time. A
   * sign-in of a known member renews through the member's consent: one token request for all
   * of that member's sign-ins, in every process, and each takes the result (see consents.ts).
   */
  renew(current: StoredTokenSet, force: boolean, ttl: number): Promise<Outcome> {
    const key = `${current.grant}:${force ? current.version : 'any'}`;
    let pending = this.inFlight.get(key);
    if (!pending) {
      // One span per sign-in's renewal; its member's consent, renewed inside it, adds none.
      const done = () => this.inFlight.delete(key);
      pending = isConsentId(current.grant) ? this.renewOnce(current, force, ttl).finally(done) : trackRenewal(traced('renewal', (op) => {
        if (op.on) op.set('space.grant', fingerprint(current.grant, 12));
        return this.renewSignIn(current, force, ttl);
      }, describeRenewal).finally(done));
      this.inFlight.set(key, pending);
    } else {
      joinRenewal(pending);
    }
    return pending;
  }

  /** A sign-in's renewal: through its member's consent, or (no member known) with its own refresh token. */
  private async renewSignIn(current: StoredTokenSet, force: boolean, ttl: number): Promise<Outcome> {
    if (!current.consent && current.refreshToken) {
      // Written before consents: the sign-in's own refresh token becomes its member's consent.
      const moved = await this.moveToConsent(current, ttl);
      if (moved) current = moved;
      else {
        // Another process moved it first: its record refers to the consent now.
        const side = await this.records.read(current.grant);
        if (side && !isEnded(side) && side.consent) current = side;
      }
    }
    if (!current.consent) return this.renewOnce(current, force, ttl);
    return this.renewThroughConsent(current, force, ttl);
  }

  private async renewThroughConsent(current: StoredTokenSet, force: boolean, ttl: number): Promise<Outcome> {
    const { grant } = current;
    const side = await this.records.read(grant);
    if (isEnded(side)) return { kind: 'ended', reason: 'signed_out' };
    if (side && side.version > current.version && this.usable(side, force, current)) {
      this.emit({ event: 'token.adopted', grant: fingerprint(grant, 12), reason: 'renewed_elsewhere' });
      return { kind: 'fresh', tokens: side, refreshed: false };
    }
    const mine = side && side.version > current.version ? side : current;
    if (!force && isFresh(mine, this.settings.skew, this.clock.now())) return { kind: 'fresh', tokens: mine, refreshed: false };
    const consentId = mine.consent!;
    const consent = await this.consents.read(consentId);
    if (!consent || isEnded(consent)) {
      this.emit({ event: 'token.no_refresh_token', grant: fingerprint(grant, 12) });
      return { kind: 'ended', reason: 'no_refresh_token' };
    }
    // The consent's newest token serves when it is newer than this sign-in's (forced: Space
    // said this sign-in's token expired) or fresh; else the consent is renewed, once for all.
    const newer = consent.issuedAt > mine.issuedAt && consent.accessToken !== mine.accessToken;
    const serves = force ? newer && isFresh(consent, 0, this.clock.now()) : isFresh(consent, this.settings.skew, this.clock.now());
    const outcome: Outcome = serves ? { kind: 'fresh', tokens: consent, refreshed: false } : await this.renew(consent, force && !newer, ttl);
    if (outcome.kind === 'unavailable') return outcome;
    if (outcome.kind === 'ended') {
      // The consent is over (Space refused its refresh token, or it was revoked): every sign-in
      // of the member renews through it, so each ends when its token expires.
      return { kind: 'ended', reason: outcome.reason === 'signed_out' ? 'no_refresh_token' : outcome.reason };
    }
    const next = adoptFromConsent(mine, outcome.tokens);
    let written: boolean;
    try {
      written = await this.records.write(next, grant, ttl);
    } catch (err) {
      // The consent holds the new token; this sign-in takes it again from there next time.
      this.emit({ event: 'token.persist_failed', grant: fingerprint(grant, 12), message: err instanceof Error ? err.message : String(err) });
      return { kind: 'fresh', tokens: next, refreshed: outcome.refreshed };
    }
    if (!written) {
      const newest = await this.records.read(grant).catch(() => undefined);
      if (!newest || isEnded(newest)) return { kind: 'ended', reason: 'signed_out' };
      return { kind: 'fresh', tokens: newest, refreshed: false };
    }
    this.announce('r', grant, next.version);
    if (!outcome.refreshed) this.emit({ event: 'token.adopted', grant: fingerprint(grant, 12), reason: 'consent' });
    return { kind: 'fresh', tokens: next, refreshed: outcome.refreshed };
  }

  /**
   * A sign-in written before consents (its own refresh token, no consent) of a known member:
   * its refresh token becomes the member's consent's when the member has none, and the sign-in
   * refers to the consent from now on. Undefined when the member is unknown or another process
   * moved or renewed it first (then the caller goes on as before).
   */
  private async moveToConsent(current: StoredTokenSet, ttl: number): Promise<StoredTokenSet | undefined> {
    const member = await this.kv.get(this.keys.owner(current.grant));
    if (!member) return undefined;
    const id = this.consents.idOf(member, current.scope);
    const existing = await this.consents.read(id);
    if (!existing || isEnded(existing)) await this.consents.offer(id, current, ttl, this.clock.now());
    const moved: StoredTokenSet = { ...current, consent: id, version: current.version + 1 };
    delete moved.refreshToken;
    if (!(await this.records.write(moved, current.grant, ttl))) return undefined;
    await this.consents.attach(id, current.grant, this.clock.now() + ttl, this.clock.now());
    this.emit({ event: 'token.moved_to_consent', grant: fingerprint(current.grant, 12) });
    return moved;
  }

  /**
   * Revokes a member's consent at Space with the consent's own access token (renewed first when
   * it has expired), then marks it ended: Space's self-revocation removes the refresh token
   * behind the access token it is given, and the consent's tokens are the ones minted from it.
   * Best effort within `timeout`.
   */
  async revokeConsent(id: string, ttl: number, timeout: number): Promise<void> {
    const signal = AbortSignal.timeout(timeout);
    const consent = await this.consents.read(id).catch(() => undefined);
    if (!consent || isEnded(consent)) return;
    let accessToken: string | undefined = consent.expiresAt > this.clock.now() + 1000 ? consent.accessToken : undefined;
    if (!accessToken) {
      const renewal = this.renew(consent, false, ttl).then((o) => (o.kind === 'fresh' ? o.tokens.accessToken : undefined), () => undefined);
      const timedOut = new Promise<undefined>((resolve) => signal.addEventListener('abort', () => resolve(undefined), { once: true }));
      accessToken = await Promise.race([renewal, timedOut]);
    }
    if (accessToken && !signal.aborted) await this.space.revokeRefreshToken(accessToken, { signal }).catch(() => undefined);
    await this.end(id, ttl).catch(() => undefined);
    this.emit({ event: 'consent.revoked', grant: fingerprint(id, 12) });
  }

  private usable(tokens: StoredTokenSet, force: boolean, than: StoredTokenSet): boolean {
    return force ? tokens.version > than.version : isFresh(tokens, this.settings.skew, this.clock.now());
  }

  private async renewOnce(fromSession: StoredTokenSet, force: boolean, ttl: number): Promise<Outcome> {
    const { grant } = fromSession;
    let current = fromSession;
    const local = this.unsaved.get(grant);
    if (local && local.tokens.version > current.version) {
      // A renewal this process made while Redis was away is newer than the session's copy.
      await this.flushUnsaved();
      current = local.tokens;
      if (this.usable(current, force, fromSession)) return { kind: 'fresh', tokens: current, refreshed: false };
    }
    const subscribed = await Promise.race([this.listen(), sleep(50).then(() => false)]);
    const deadline = Date.now() + this.settings.lockTTL + 1000;
    let strayChecked = false;
    for (;;) {
      const { record: side, pausedFor } = await this.records.readWithPause(grant);
      if (isEnded(side)) return { kind: 'ended', reason: 'signed_out' };
      const base = side && side.version >= current.version ? side : current;
      if (side && side.version > current.version && this.usable(side, force, current)) {
        this.emit({ event: 'token.adopted', grant: fingerprint(grant, 12), reason: 'renewed_elsewhere' });
        return { kind: 'fresh', tokens: side, refreshed: false };
      }
      if (!force && isFresh(base, this.settings.skew, this.clock.now())) return { kind: 'fresh', tokens: base, refreshed: false };
      // A renewal failed a moment ago, here or in another process: leave Space alone, take no lock.
      const paused = this.pausedFor(grant, pausedFor);
      if (paused) return paused;

      // The lock expires lockTTL after Redis sets it, which is after this moment: time from here.
      const asked = Date.now();
      const lock = await this.records.lock(grant);
      if (lock) return this.renewLocked(base, lock, ttl, asked + this.settings.lockTTL - LOCK_MARGIN);
      // A lock with no TTL (or more than ours) is not the library's: it would block forever.
      if (!strayChecked) {
        strayChecked = true;
        if (await this.records.clearStray(grant)) {
          this.emit({ event: 'token.lock_cleared', grant: fingerprint(grant, 12), reason: 'no_ttl' });
          continue;
        }
      }
      // Another process is renewing: wait for its announcement rather than renewing again.
      const released = await traced('renewal.wait', () => this.waitForHolder(grant, deadline, subscribed), (ok, op) => op.set('space.outcome', ok ? 'released' : 'lock_timeout'));
      if (!released) return { kind: 'unavailable', retryAfter: 2, reason: 'lock_timeout' };
    }
  }

  /** Waits while another holds the renewal lock; false when it still holds it at `deadline`. */
  private async waitForHolder(grant: string, deadline: number, subscribed: boolean): Promise<boolean> {
    while (await this.records.isLocked(grant)) {
      if (Date.now() > deadline) return false;
      await this.waitForNews(grant, subscribed ? 250 : 25);
    }
    return true;
  }

  /** Renews under the lock; `deadline` (epoch ms) is when everything done under it must have ended. */
  private async renewLocked(base: StoredTokenSet, lock: string, ttl: number, deadline: number): Promise<Outcome> {
    const { grant } = base;
    const tag = fingerprint(grant, 12);
    let released = false;
    try {
      // Re-read under the lock: the previous holder may have finished (or failed and paused
      // this sign-in) just before we took it.
      const { record: side, pausedFor } = await this.records.readWithPause(grant);
      if (isEnded(side)) return { kind: 'ended', reason: 'signed_out' };
      if (side && side.version > base.version) return { kind: 'fresh', tokens: side, refreshed: false };
      if (!base.refreshToken) {
        this.emit({ event: 'token.no_refresh_token', grant: tag });
        return { kind: 'ended', reason: 'no_refresh_token' };
      }
      const paused = this.pausedFor(grant, pausedFor);
      if (paused) return paused;
      // What is left for Space once the result's write (one Redis command) is set aside. The
      // steps before may have eaten it (a stalled read, a process that was not scheduled):
      // then Space is not asked at all, rather than asked by a holder whose lock may expire.
      const forSpace = deadline - this.settings.redisTimeout - Date.now();
      if (forSpace <= 0) {
        this.emit({ event: 'token.refresh_failed', grant: tag, reason: 'lock_deadline', message: 'The steps before the token request took the renewal lock\'s whole time; Space was not asked' });
        return { kind: 'unavailable', retryAfter: 1, reason: 'lock_deadline' };
      }
      let renewed: SpaceTokenSet;
      try {
        // Aborted before the lock can expire, whatever Space does.
        const signal = AbortSignal.timeout(forSpace);
        renewed = await this.space.refresh(base.refreshToken, { ...(base.scope ? { scope: base.scope } : {}), signal });
      } catch (err) {
        return await this.refreshFailed(base, lock, err, ttl, () => { released = true; });
      }
      // Space's lifetime counted from now in the shared clock (see clock.ts), not this process's.
      const shift = this.clock.skewToShared;
      const next = mergeRenewed(base, { ...renewed, expiresAt: renewed.expiresAt + shift }, Date.now() + shift);
      let written: boolean;
      try {
        written = await this.records.write(next, grant, ttl, lock);
      } catch (err) {
        // Space has answered: the new tokens are the only good ones now. Serve them, keep
        // them, and write them (releasing the lock) when Redis takes writes again.
        released = true;
        this.keepUnsaved(next, err, lock, ttl);
        return { kind: 'fresh', tokens: next, refreshed: true };
      }
      released = true;
      if (!written) return this.writeRefused(grant, next);
      this.announce('r', grant, next.version);
      this.emit({ event: 'token.refreshed', grant: tag });
      return { kind: 'fresh', tokens: next, refreshed: true };
    } finally {
      if (!released) await this.records.unlock(grant, lock).catch(() => undefined);
    }
  }

  /**
   * The answer while renewals of this sign-in are paused (`shared`: ms left of the pause in
   * Redis, which another process may have set), or undefined when Space may be asked.
   */
  private pausedFor(grant: string, shared: number): Outcome | undefined {
    const now = Date.now();
    const until = Math.max(this.pauses.get(grant) ?? 0, shared > 0 ? now + shared : 0);
    if (until <= now) {
      this.pauses.delete(grant);
      return undefined;
    }
    return { kind: 'unavailable', retryAfter: Math.max(1, Math.ceil((until - now) / 1000)), reason: 'space_paused' };
  }

  /** Redis kept a newer record, or the sign-in ended meanwhile: the newer state wins. */
  private async writeRefused(grant: string, minted: StoredTokenSet): Promise<Outcome> {
    const tag = fingerprint(grant, 12);
    const side = await this.records.read(grant).catch(() => undefined);
    if (side && !isEnded(side)) {
      this.emit({ event: 'token.adopted', grant: tag, reason: 'newer_version' });
      return { kind: 'fresh', tokens: side, refreshed: false };
    }
    // Signed out while Space was renewing: the tokens just minted must die at Space too.
    this.emit({ event: 'token.discarded', grant: tag, reason: 'signed_out' });
    this.space.revokeRefreshToken(minted.accessToken, { signal: AbortSignal.timeout(3000) }).catch(() => undefined);
    return { kind: 'ended', reason: 'signed_out' };
  }

  private async refreshFailed(base: StoredTokenSet, lock: string, err: unknown, ttl: number, markReleased: () => void): Promise<Outcome> {
    const tag = fingerprint(base.grant, 12);
    if (err instanceof SpaceTokenError && err.grantRevoked) {
      // Before signing out, make sure no other process renewed with the same token meanwhile.
      const side = await this.records.read(base.grant);
      if (side && !isEnded(side) && side.version > base.version) return { kind: 'fresh', tokens: side, refreshed: false };
      await this.end(base.grant, ttl, lock);
      markReleased();
      this.emit({ event: 'token.refresh_rejected', grant: tag, reason: 'invalid_grant', status: err.status, error: err.error, message: err.message });
      return { kind: 'ended', reason: 'invalid_grant' };
    }
    // Any failure pauses the sign-in, here and (through Redis) in every process: a transient
    // one (Space down, slow, rate limiting) as much as one that will not mend by itself soon
    // (invalid_client after a secret rotation, a proxy's HTML page), which must not cost Space
    // one token request per request either.
    const pause = pauseAfterFailure(err, this.settings.retryDelay, this.settings.maxRetryAfter);
    this.pauses.delete(base.grant);
    this.pauses.set(base.grant, Date.now() + pause);
    trimOldest(this.pauses, MAX_TRACKED);
    try {
      await this.records.pause(base.grant, pause, lock); // releases the lock in the same step
      markReleased();
    } catch {
      // Redis away: this process keeps the pause; the lock is released (or expires) as usual.
    }
    // invalid_client, a malformed answer...: our side or Space's is broken, not the user's
    // grant. Keep the session (a bad secret must not sign everyone out).
    this.emit({
      event: 'token.refresh_failed', grant: tag, reason: isSpaceError(err) ? err.code : 'error',
      status: isSpaceError(err) ? err.status : undefined, error: isSpaceError(err) ? err.error : undefined,
      message: err instanceof Error ? err.message : String(err),
    });
    return { kind: 'unavailable', retryAfter: Math.max(1, Math.ceil(pause / 1000)), reason: isSpaceError(err) ? err.code : 'error' };
  }

  private keepUnsaved(tokens: StoredTokenSet, err: unknown, lock: string, ttl: number): void {
    this.unsaved.set(tokens.grant, { tokens, until: Date.now() + Math.min(ttl, 3_600_000), lock, ttl });
    trimOldest(this.unsaved, 10_000);
    this.emit({ event: 'token.persist_failed', grant: fingerprint(tokens.grant, 12), message: err instanceof Error ? err.message : String(err) });
    if (!this.flushTimer) {
      this.flushTimer = setInterval(() => void this.flushUnsaved(), 1000);
      this.flushTimer.unref();
    }
  }

  /** Writes renewals kept in memory; drops those past their time. */
  private async flushUnsaved(): Promise<void> {
    for (const [grant, entry] of this.unsaved) {
      if (entry.until < Date.now()) {
        this.unsaved.delete(grant);
        continue;
      }
      try {
        // Also releases the renewal lock if it is still ours, so nobody waits for its TTL.
        const written = await this.records.write(entry.tokens, grant, entry.ttl, entry.lock);
        if (this.unsaved.get(grant) === entry) this.unsaved.delete(grant);
        // Refused because an earlier attempt did land (Redis answered it too late for us): stored all the same.
        const landed = written || await this.records.read(grant).then((r) => !isEnded(r) && r?.version === entry.tokens.version && r.accessToken === entry.tokens.accessToken, () => false);
        if (landed) {
          this.announce('r', grant, entry.tokens.version);
          this.emit({ event: 'token.persisted_late', grant: fingerprint(grant, 12) });
        }
      } catch {
        return; // Redis still away: try again on the next tick.
      }
    }
    if (this.unsaved.size === 0 && this.flushTimer) {
      clearInterval(this.flushTimer);
      this.flushTimer = undefined;
    }
  }
}
