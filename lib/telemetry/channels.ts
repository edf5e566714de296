import diagnostics from 'node:diagnostics_channel';
import type { Attributes } from './otel';

/**
 * The library's `node:diagnostics_channel` channels (docs/operations.md#diagnostics-channels).
 * Made once, here: a channel nobody subscribes to costs one property read per publication.
 */

/** Every operation the library traces: a span name, and a tracing channel of the same name. */
export type OperationName =
  | 'signin.start' | 'signin.callback' | 'signin.exchange' | 'signin.profile'
  | 'renewal' | 'renewal.wait' | 'signout' | 'revoke' | 'authorize' | 'space.token' | 'space.api';

const OPERATIONS: readonly OperationName[] = [
  'signin.start', 'signin.callback', 'signin.exchange', 'signin.profile',
  'renewal', 'renewal.wait', 'signout', 'revoke', 'authorize', 'space.token', 'space.api',
];

/** The prefix of every channel name. */
export const CHANNEL_PREFIX = 'passport-jetbrains-space:';

/**
 * What subscribers of an operation's tracing channel receive: the operation's name and its
 * attributes (the same as its span's, filled in as it goes; final at `asyncEnd`), and, from
 * Node, `error` when it failed. Never its result, which may hold tokens.
 */
export interface OperationMessage {
  operation: OperationName;
  attributes: Attributes;
  error?: unknown;
}

type Tracing = diagnostics.TracingChannel<object, OperationMessage>;

export const tracingChannels = Object.fromEntries(OPERATIONS.map((name) => [name, diagnostics.tracingChannel(`${CHANNEL_PREFIX}${name}`)])) as unknown as Record<OperationName, Tracing>;

/** True when anyone subscribed to one of the operation's channels (`TracingChannel.hasSubscribers` is newer than Node 20.0). */
export function listening(channel: Tracing): boolean {
  return channel.start.hasSubscribers || channel.end.hasSubscribers || channel.asyncStart.hasSubscribers
    || channel.asyncEnd.hasSubscribers || channel.error.hasSubscribers;
}

/** Each audit event (docs/operations.md#audit-trail). */
export const auditChannel = diagnostics.channel(`${CHANNEL_PREFIX}audit`);
/** Each event `onEvent` receives. */
export const eventChannel = diagnostics.channel(`${CHANNEL_PREFIX}event`);
/** Each 503 (or 504) answered because Redis or Space was away: `{ cause, status }`. */
export const unavailableChannel = diagnostics.channel(`${CHANNEL_PREFIX}unavailable`);
