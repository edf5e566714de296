import { createHash } from 'node:crypto';

/** A short, non-reversible name for a value that must not appear as it is (a session id, a token). */
export function fingerprint(value: string, length = 22): string {
  return createHash('sha256').update(value).digest('base64url').slice(0, length);
}

/**
 * A member's stable, non-reversible name in key names and indexes (never their profile id
 * itself): the same in every process.
 */
export function memberHash(memberId: string): string {
  return fingerprint(`user:${memberId}`, 22);
}

/**
 * Every Redis key and channel the library uses. The keys of one sign-in share the hash tag
 * `{<grant>}`, those of one session's pending sign-ins `{p:<session hash>}`, so each script's
 * keys hash to one Redis Cluster slot. No key name holds a token or a session id.
 */
export class Keys {
  constructor(readonly prefix: string) {}

  record(grant: string): string {
    return `${this.prefix}{${grant}}:tokens`;
  }

  lock(grant: string): string {
    return `${this.prefix}{${grant}}:lock`;
  }

  /**
   * Set after a failed renewal: while it lives, no process asks Space to renew this lineage.
   * `grant` is whatever renews: a sign-in with its own refresh token, or a member's consent
   * (`c:<hash>`, beside its record and lock under one hash tag).
   */
  pause(grant: string): string {
    return `${this.prefix}{${grant}}:pause`;
  }

  pending(binding: string): string {
    return `${this.prefix}{p:${binding}}:pending`;
  }

  /** A sign-in's (or a bearer token's) team and role facts, and the lock that fetches them once. */
  member(tag: string): string {
    return `${this.prefix}{${tag}}:member`;
  }

  memberLock(tag: string): string {
    return `${this.prefix}{${tag}}:member-lock`;
  }

  /**
   * The sign-ins that use a member's consent, each with until when (`consent` is the consent's
   * id, `c:<hash>`; its record and lock are `record(consent)` and `lock(consent)`, one hash tag).
   */
  consentUsers(consent: string): string {
    return `${this.prefix}{${consent}}:users`;
  }

  /** Which user a sign-in belongs to (a hash of the user id), for the sessions index. */
  owner(grant: string): string {
    return `${this.prefix}{${grant}}:owner`;
  }

  /** One user's sessions index; `user` is a hash of the user id. */
  sessions(user: string): string {
    return `${this.prefix}{u:${user}}:sessions`;
  }

  /** A sign-in's start and last activity (session lifetimes), beside its record. */
  life(grant: string): string {
    return `${this.prefix}{${grant}}:life`;
  }

  /**
   * Every member with a sign-in in this app (hashes of their ids), for ending all sign-ins when
   * the application is uninstalled. One key: its tag is fixed.
   */
  get allMembers(): string {
    return `${this.prefix}{members}:all`;
  }

  /** One rate-limit counter: an endpoint and a bucket (a hash of the client address, or of the member, reduced to a bounded range). */
  rateLimit(endpoint: string, bucket: string): string {
    return `${this.prefix}{rl:${endpoint}:${bucket}}:count`;
  }

  /** The application's token (spaceAppClient), cached for every process; `id` names the client, never its secret. */
  appToken(id: string): string {
    return `${this.prefix}{app:${id}}:token`;
  }

  /** The lock that fetches the application's token once. */
  appLock(id: string): string {
    return `${this.prefix}{app:${id}}:lock`;
  }

  /** Set after a failed application token request: while it lives, no process asks Space again. */
  appPause(id: string): string {
    return `${this.prefix}{app:${id}}:pause`;
  }

  /** Where renewals and sign-outs are announced, so other processes learn of them at once. */
  get channel(): string {
    return `${this.prefix}events`;
  }
}
