/**
 * Small things every part uses: the error classes (and how Redis outages are told apart and
 * scrubbed), `onEvent` and `debug`, option checks, bounded per-process caches.
 */
export { PER_PROCESS_MAX, dropWhileFirst, trimOldest } from './bounded';
export { boolean, describeGiven, fn, isRecord, localPath, number, oneOf, onlyKnown, optionalString, requireString, spaceURLWithoutPath } from './checks';
export { RedisUnavailableError, SpaceApiError, SpaceAuthorizationError, SpaceError, SpaceSessionEndedError, SpaceTokenError, isRedisOutage, isSpaceError, scrubRedisError } from './errors';
export type { SpaceErrorCode, SpaceErrorDetails } from './errors';
export { debugOf, emitter, explainOffline, warnOnce, watchRedis } from './events';
export type { SpaceTokenEvent } from './events';
export { TtlCache } from './ttl-cache';
