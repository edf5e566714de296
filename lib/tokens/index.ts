/**
 * What is kept of a sign-in's tokens and how they are renewed: the token set and its freshness
 * rule, the versioned records in Redis (written only forwards), and the renewal engine (single
 * flight in a process, a lock across processes, pauses after failures).
 */
export { ConsentStore } from './consents';
export { RecordStore, isEnded } from './records';
export type { SignInRecord } from './records';
export { RenewalEngine } from './renewal-engine';
export type { Refresher } from './renewal-engine';
export { isFresh, isStoredTokenSet, keptRefreshToken, publicView } from './token-set';
export type { SpaceTokenSet, StoredTokenSet } from './token-set';
