/**
 * Space's HTTP side, knowing nothing of sessions: one call with a hard timeout and a size cap,
 * keep-alive transport, the token endpoint and the API client, the profile mapping, token answers,
 * API error kinds, public keys (JWKS).
 */
export { isExpiredTokenError, isRevokedGrantError } from './api-errors';
export { callSpace, cleanText, isRecord, parseJSON } from './call';
export { SpaceClient } from './client';
export type { SpaceApiCallOptions } from './client';
export { KeySet, rs512 } from './jwks';
export { DEFAULT_PROFILE_FIELDS } from './profile';
export type { SpaceMemberProfileJSON, SpaceProfile } from './profile';
export type { SpaceTokenSet } from './token-answer';
