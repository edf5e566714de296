/**
 * passport-jetbrains-space: "Sign in with JetBrains Space" for Express and Passport.
 * This file only re-exports; the emulator lives at `passport-jetbrains-space/emulator`.
 */
import './context';

export { SpaceStrategy } from './strategy';
export type { SpaceAuthenticateOptions, SpaceAuthInfo } from './strategy';
export type {
  SpaceStrategyOptions,
  SpaceStrategyOptionsWithRequest,
  SpaceStrategyOptionsWithoutRequest,
  SpaceVerify,
  SpaceVerifyWithRequest,
  SpaceVerifyFunction,
  SpaceVerifyFunctionWithParams,
  SpaceVerifyFunctionWithRequest,
  SpaceVerifyFunctionWithRequestAndParams,
  SpaceVerified,
  SpaceTokenParams,
} from './options';
export type { SpaceSharedOptions } from './settings';
export { DEFAULT_PROFILE_FIELDS } from './profile';
export type { SpaceProfile, SpaceMemberProfileJSON } from './profile';
export type { SpaceTokenSet } from './token-set';
export { safeReturnTo } from './return-to';
export {
  SpaceError,
  SpaceAuthorizationError,
  SpaceTokenError,
  SpaceApiError,
  SpaceSessionEndedError,
  RedisUnavailableError,
  isSpaceError,
  isRedisOutage,
} from './errors';
export type { SpaceErrorCode } from './errors';
export { spaceTokenRefresh } from './refresh';
export type { SpaceTokenRefreshOptions } from './refresh';
export type { SpaceTokenEvent } from './events';
export { spaceApi } from './api';
export type { SpaceApi } from './api';
export type { SpaceApiCallOptions } from './space-client';
export { spaceErrorHandler } from './error-handler';
export type { SpaceErrorHandlerOptions } from './error-handler';
export { spaceSignOut } from './sign-out';
export type { SpaceSignOutOptions } from './sign-out';
export { spaceAppClient } from './app-client';
export type { SpaceAppClient, SpaceAppClientOptions, SpaceAppToken } from './app-client';
export type { AppTokenStore, CachedAppToken } from './app-token-store';
export { SpaceBearerStrategy } from './bearer-strategy';
export type {
  SpaceBearerOptions,
  SpaceBearerAuthenticateOptions,
  SpaceBearerPrincipal,
  SpaceUserPrincipal,
  SpaceApplicationPrincipal,
  SpaceBearerInfo,
  SpaceBearerVerify,
  SpaceBearerVerifyWithRequest,
} from './bearer-strategy';
export { verifySpaceRequest } from './verify-request';
export type { VerifySpaceRequestOptions, SpaceRequestMethod } from './verify-request';
export { spaceRawBody } from './raw-body';

/**
 * The Redis client the library takes: ioredis 5/6 (single node, Sentinel, Cluster) or
 * node-redis 4/5. Typed loosely so that neither client is a dependency; the kind is
 * checked at start-up.
 */
export type RedisLike = object;
export type { SpaceSessionData } from './augment';
export { spaceAuthorize } from './authorize';
export type { SpaceAuthorizeOptions } from './authorize';
export type { SpaceMember, SpaceMemberTeam, SpaceMemberRole } from './membership';
export { spaceSessions, endSpaceSessionsOf } from './sessions';
export type { SpaceSessions, SpaceSessionInfo } from './sessions';
