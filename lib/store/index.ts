/**
 * Redis behind one small interface (`KV`), for ioredis and node-redis, single node or Cluster, or
 * an in-process twin; the Lua scripts; every key name (hash-tagged, never a secret); sealing at
 * rest; the sealed-record store and the lock the stores share; Redis's clock.
 */
export { REDIS_EXPECTED, redisKind } from './clients';
export { SharedClock } from './clock';
export { Keys, fingerprint, memberHash } from './key-names';
export { RedisLock } from './lock';
export { kvFor } from './redis';
export type { KV } from './redis';
export { ADD_PENDING, ATTACH_CONSENT, DETACH_CONSENT, END_RECORD, EXTEND_SIGN_IN, OFFER_CONSENT, PAUSE_LEFT, READ_WITH_PAUSE, TAKE_PENDING, WRITE_AND_RELEASE, WRITE_RECORD, WRITE_SIGN_IN } from './scripts';
export { isSealed, openStored, parseEncryptionKeys, seal, unseal } from './seal';
export type { Opened } from './seal';
export { FORGET_SESSIONS, LIST_SESSIONS, TOUCH_SESSION } from './session-scripts';
export { COUNT_REQUEST, LIST_MEMBERS, NOTE_MEMBER, PEEK_COUNT, READ_LIFE, TOUCH_LIFE } from './operations-scripts';
