import type { Request } from 'express';
import { dropWhileFirst, emitter, PER_PROCESS_MAX, type SpaceTokenEvent, trimOldest } from '../core';
import { Keys, type KV, kvFor, SharedClock } from '../store';
import { ConsentStore, isEnded, isFresh, publicView, RecordStore, type Refresher, RenewalEngine, type SignInRecord, type SpaceTokenSet, type StoredTokenSet } from '../tokens';
import { sessionLife, SessionState } from '../session';
import type { ResolvedOptions, SharedSettings } from '../config';
import type { SpaceClient } from '../space';
import { observeEvents } from '../telemetry';

/**
 * What the runtime needs of the strategy: its own settings, its Space client, and its refresh
 * and revocation (public methods users may override). Kept narrow so that the parts of the
 * library take the runtime, never the strategy class, and the two do not import each other.
 */
export interface RuntimeHost extends Refresher {
  /** The strategy's own options after defaults (scope, session key, client id, ...). */
  readonly options: Readonly<ResolvedOptions>;
  /** The strategy's client for Space's token endpoint and HTTP API. */
  readonly client: SpaceClient;
}

/**
 * Everything the library keeps per strategy, built once from the shared settings on first
 * use: the Redis (or memory) store, key names, the session state, the
 * renewal engine and what this process knows of other processes' sign-outs. Every part of the
 * library that serves a request takes this (found with `runtimeOf(req)`), not the strategy.
 */
export class SpaceRuntime {
  readonly kv: KV;
  readonly keys: Keys;
  readonly records: RecordStore;
  /** Each member's consent: the refresh token all of the member's sign-ins renew through. */
  readonly consents: ConsentStore;
  readonly session: SessionState;
  readonly engine: RenewalEngine;
  readonly emit: (event: SpaceTokenEvent) => void;
  /** Redis's clock as this process estimates it: every stored time of a sign-in is in it. */
  readonly clock: SharedClock;
  /** Sign-ins this process has checked against Redis recently: the version seen, and until when it counts. */
  private readonly checked = new Map<string, { version: number; until: number }>();

  constructor(readonly settings: SharedSettings, readonly host: RuntimeHost) {
    this.kv = kvFor(settings.redis, settings.redisTimeout);
    this.keys = new Keys(settings.keyPrefix);
    this.emit = observeEvents(emitter(settings.onEvent), this);
    this.records = new RecordStore(this.kv, this.keys, settings.encryptionKeys, settings.lockTTL);
    this.consents = new ConsentStore(this.kv, this.keys, this.records, host.options.clientID);
    this.session = new SessionState(host.options.sessionKey, settings.encryptionKeys, async (grant) => {
      const record = await this.records.read(grant);
      return record && !isEnded(record) ? record : undefined;
    });
    this.clock = new SharedClock(this.kv.shared ? () => this.kv.time() : undefined);
    void this.clock.start();
    this.engine = new RenewalEngine(this.records, this.consents, this.kv, this.keys, host, settings, this.emit, this.clock);
  }

  /** What `req.spaceTokens` shows: the tokens, `expiresAt` in this process's clock. */
  view(tokens: StoredTokenSet): SpaceTokenSet {
    return publicView(tokens, this.clock.skewToShared);
  }

  /** How long the library's records of this request's sign-in must live: as long as its session. */
  recordTTL(req: Request): number {
    return sessionLife(req) ?? this.settings.tokenTTL;
  }

  /**
   * Is this session's sign-in still alive, and is there a newer copy of its tokens? A sign-out
   * marks the sign-in ended in Redis and announces it, so a copy of the session written back by
   * a request that was still running never authenticates again. This process trusts what it
   * heard for a while (30 s when it hears announcements, 1 s when it cannot), else asks Redis.
   */
  async check(stored: StoredTokenSet): Promise<{ ended: true } | { ended: false; newest: StoredTokenSet }> {
    if (this.engine.news.get(stored.grant)?.ended) return { ended: true };
    const now = Date.now();
    if (this.knownAlive(stored, now)) return { ended: false, newest: stored };
    const listening = this.settings.redis === undefined ? true : await Promise.race([this.engine.listen(), Promise.resolve(false)]);
    const record = await this.records.read(stored.grant);
    if (isEnded(record)) return { ended: true };
    const newest = record && record.version > stored.version ? record : stored;
    this.note(stored.grant, newest.version, now + (listening ? 30_000 : 1000));
    return { ended: false, newest };
  }

  /** Records that this process has just seen (issued or renewed) this copy. */
  remember(tokens: StoredTokenSet, listening = false): void {
    this.note(tokens.grant, tokens.version, Date.now() + (listening ? 30_000 : 1000));
  }

  private note(grant: string, version: number, until: number): void {
    // Latest last, so what has expired is at the front and goes first: the map holds the
    // sign-ins seen in the last 30 s, not every one this process ever met.
    this.checked.delete(grant);
    this.checked.set(grant, { version, until });
    const now = Date.now();
    dropWhileFirst(this.checked, (seen) => seen.until <= now);
    trimOldest(this.checked, PER_PROCESS_MAX);
  }

  /** True when this process knows, without asking Redis, that this copy is alive and the newest. */
  knownAlive(stored: StoredTokenSet, now = Date.now()): boolean {
    const seen = this.checked.get(stored.grant);
    if (!seen || seen.until <= now || seen.version > stored.version) return false;
    const news = this.engine.news.get(stored.grant);
    return !news || (!news.ended && news.version <= stored.version);
  }

  /** Ends a sign-in everywhere: marked in Redis, announced, and forgotten here. Answers its record as it was just before. */
  async end(grant: string, req: Request): Promise<SignInRecord | undefined> {
    const before = await this.engine.end(grant, this.recordTTL(req));
    this.checked.delete(grant);
    this.session.forget(grant);
    return before;
  }

  /**
   * Ends a sign-in everywhere, and with `revoke` at Space too, in the order that makes the end
   * final first: for a sign-in of a member's consent, it is marked ended (no process serves it
   * from then on) and leaves the consent; only when it was the consent's last sign-in is the
   * refresh token revoked at Space (with the consent's own access token), so signing out one
   * browser never signs out the member's others. A sign-in with a refresh token of its own
   * (no member known, or written before consents) is revoked with a token that works now (its
   * access token while valid, else after one renewal), then marked; when the caller has marked
   * it ended already (signing out everywhere marks every sign-in first), the renewal is made for
   * the revocation only, past the engine. Revocation is best effort within `timeout`: Space away
   * never keeps anyone signed in.
   */
  async finish(grant: string, options: { revoke: boolean; ttl: number; timeout?: number; tokens?: StoredTokenSet }): Promise<void> {
    const timeout = options.timeout ?? 3000;
    const read = await this.records.read(grant).catch(() => undefined);
    const tokens = read && !isEnded(read) ? read : options.tokens;
    if (tokens && !tokens.consent && options.revoke) await this.revokeOwn(tokens, options.ttl, timeout, isEnded(read));
    await this.engine.end(grant, options.ttl);
    this.checked.delete(grant);
    this.session.forget(grant);
    if (tokens?.consent) {
      const left = await this.consents.detach(tokens.consent, grant, this.clock.now()).catch(() => -1);
      if (left === 0 && options.revoke) await this.engine.revokeConsent(tokens.consent, options.ttl, timeout);
    }
  }

  private async revokeOwn(tokens: StoredTokenSet, ttl: number, timeout: number, marked: boolean): Promise<void> {
    const signal = AbortSignal.timeout(timeout);
    let accessToken: string | undefined = tokens.expiresAt > this.clock.now() + 1000 ? tokens.accessToken : undefined;
    if (!accessToken && tokens.refreshToken) {
      // Already marked ended: the engine renews nothing any more, so one token is asked for this call only.
      const renewal = (marked
        ? this.host.refresh(tokens.refreshToken, { ...(tokens.scope ? { scope: tokens.scope } : {}), signal }).then((t) => t.accessToken)
        : this.engine.renew(tokens, !isFresh(tokens, 0, this.clock.now()), ttl).then((o) => (o.kind === 'fresh' ? o.tokens.accessToken : undefined)))
        .catch(() => undefined);
      const timedOut = new Promise<undefined>((resolve) => signal.addEventListener('abort', () => resolve(undefined), { once: true }));
      accessToken = await Promise.race([renewal, timedOut]);
    }
    if (accessToken && !signal.aborted) await this.host.revokeRefreshToken(accessToken, { signal }).catch(() => undefined);
  }
}
