import { debugOf } from '../core';
import { auditChannel } from './channels';

/**
 * The kinds of audit event, one per security-relevant fact (docs/operations.md#audit-trail).
 * Stable: a kind is never renamed or removed; new kinds may be added.
 */
export type SpaceAuditEventType =
  /** A member signed in (the callback completed and the session names the new sign-in). */
  | 'signed_in'
  /** A sign-in callback was refused: bad or replayed state, cancelled, code refused, verify callback said no. */
  | 'sign_in_refused'
  /** A member signed out through spaceSignOut. */
  | 'signed_out'
  /** Sign-ins were ended from elsewhere: spaceSessions(req).end()/endAll(), or endSpaceSessionsOf (operators). */
  | 'ended_everywhere'
  /** Space said the grant behind a sign-in was revoked (the member removed the app in Space): signed out. */
  | 'ended_by_space'
  /** Space refused to renew a sign-in's tokens (`invalid_grant`): the sign-in ended. */
  | 'refresh_refused'
  /** spaceAuthorize refused a request: the member's teams and roles do not match its rules. */
  | 'team_refused'
  /** SpaceBearerStrategy refused a bearer token (malformed, bad signature, expired, another organization, revoked). */
  | 'bearer_refused'
  /** verifySpaceRequest refused a request claiming to come from Space (a forged or stale signature). */
  | 'webhook_refused'
  /** A request was refused for going over a rate limit. */
  | 'rate_limited';

/**
 * One audit event: who, what, when, how it ended. Never holds a token, a code, a session id or a
 * secret. Fields other than `type`, `at` and `outcome` are present when known.
 */
export interface SpaceAuditEvent {
  type: SpaceAuditEventType;
  /** When it happened, ISO 8601 in UTC, e.g. `2025-05-01T12:00:00.000Z`. */
  at: string;
  /** `success` for what was done as asked (signed in, signed out), `failure` for what was refused. */
  outcome: 'success' | 'failure';
  /** The Space member concerned: profile id, and username when known. */
  member?: { id: string; username?: string };
  /** The browser, described in a few words: `"Firefox on Linux"`. */
  browser?: string;
  /** Why, as a short code (`state_unknown`, `invalid_grant`, `rules`...) or, for refused tokens and webhooks, a fixed text. */
  reason?: string;
  /** The sign-in concerned: the 12-character fingerprint that events and debug lines use, never the sign-in id. */
  grant?: string;
  /** The path of the request (no query string), for refusals of a request. */
  path?: string;
  /** How many sign-ins were ended (`ended_everywhere`). */
  count?: number;
  /** Space's `error` code, when Space gave one (`invalid_grant`). */
  error?: string;
}

/** What may receive audit events: a runtime (its shared settings), or anything with the setting. */
export interface AuditHost {
  readonly settings: { readonly onAudit?: ((event: SpaceAuditEvent) => void) | undefined };
}

/** An event as a caller gives it: `at` is filled in when absent. */
export type AuditFact = Omit<SpaceAuditEvent, 'at'> & { at?: string };

const log = debugOf('audit');

/**
 * True when an audit event would reach anyone (the shared `onAudit`, a subscriber of the `audit`
 * channel, or `DEBUG=passport-jetbrains-space:audit`): callers check it before describing a
 * browser or a member.
 */
export function auditing(host: AuditHost | undefined): boolean {
  return Boolean(host?.settings.onAudit) || auditChannel.hasSubscribers || log.enabled;
}

/**
 * Records one audit event: to the shared `onAudit` (which may never break a request), the
 * `passport-jetbrains-space:audit` channel and `DEBUG=passport-jetbrains-space:audit`. Undefined
 * fields are left out, so the event serializes to the documented shape.
 */
export function audit(host: AuditHost | undefined, fact: AuditFact): void {
  if (!auditing(host)) return;
  // Type, time and outcome first, then the fields in the order given: a JSON line reads the same every time.
  const fields: Record<string, unknown> = { type: fact.type, at: fact.at ?? new Date().toISOString(), outcome: fact.outcome };
  for (const [key, value] of Object.entries(fact)) if (value !== undefined && !(key in fields)) fields[key] = value;
  const ordered = fields as unknown as SpaceAuditEvent;
  if (log.enabled) log(`${ordered.type} ${ordered.outcome}${ordered.reason ? ` reason=${ordered.reason}` : ''}${ordered.grant ? ` grant=${ordered.grant}` : ''}`);
  try {
    if (auditChannel.hasSubscribers) auditChannel.publish(ordered);
  } catch {
    // A subscriber must never break a request.
  }
  try {
    host?.settings.onAudit?.(ordered);
  } catch {
    // A logger must never break a request.
  }
}

/**
 * The member an audit event names, from a Space profile or a `req.user` shaped like one (`id`
 * and `username` strings, as the verify callbacks of the README keep them); undefined otherwise.
 */
export function memberOf(user: unknown): SpaceAuditEvent['member'] {
  const u = user as { id?: unknown; username?: unknown } | null | undefined;
  if (!u || typeof u !== 'object' || typeof u.id !== 'string' || u.id === '') return undefined;
  const id = u.id.slice(0, 256);
  return typeof u.username === 'string' && u.username !== '' ? { id, username: u.username.slice(0, 256) } : { id };
}
