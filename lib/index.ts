/**
 * passport-jetbrains-space: "Sign in with JetBrains Space" for Express and Passport.
 * This file only re-exports; the emulator lives at `passport-jetbrains-space/emulator`.
 */
import './runtime/request-context';

export { SpaceStrategy } from './strategy';
export type { SpaceAuthenticateOptions, SpaceAuthInfo } from './signin/host';
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
} from './config/strategy-options';
export type { SpaceSharedOptions } from './config/shared-settings';
export { DEFAULT_PROFILE_FIELDS } from './space/profile';
export type { SpaceProfile, SpaceMemberProfileJSON } from './space/profile';
export type { SpaceTokenSet } from './tokens/token-set';
export { safeReturnTo } from './web/return-to';
export {
  SpaceError,
  SpaceAuthorizationError,
  SpaceTokenError,
  SpaceApiError,
  SpaceSessionEndedError,
  RedisUnavailableError,
  isSpaceError,
  isRedisOutage,
} from './core/errors';
export type { SpaceErrorCode } from './core/errors';
export { spaceTokenRefresh } from './refresh/middleware';
export type { SpaceTokenRefreshOptions } from './refresh/middleware';
export type { SpaceTokenEvent } from './core/events';
export { spaceApi } from './refresh/space-api';
export type { SpaceApi } from './refresh/space-api';
export type { SpaceApiCallOptions } from './space/client';
export { spaceErrorHandler } from './web/error-handler';
export type { SpaceErrorHandlerOptions } from './web/error-handler';
export { spaceSignOut } from './signout/sign-out';
export type { SpaceSignOutOptions } from './signout/sign-out';
export { spaceAppClient } from './app-client/client';
export type { SpaceAppClient, SpaceAppClientOptions, SpaceAppToken } from './app-client/client';
export type { AppTokenStore, CachedAppToken } from './app-client/token-store';
export { SpaceBearerStrategy } from './bearer/strategy';
export type {
  SpaceBearerOptions,
  SpaceBearerAuthenticateOptions,
  SpaceBearerPrincipal,
  SpaceUserPrincipal,
  SpaceApplicationPrincipal,
  SpaceBearerInfo,
  SpaceBearerVerify,
  SpaceBearerVerifyWithRequest,
} from './bearer/strategy';
export { verifySpaceRequest } from './webhooks/verify-request';
export type { VerifySpaceRequestOptions, SpaceRequestMethod } from './webhooks/verify-request';
export { spaceRawBody } from './webhooks/raw-body';

/**
 * The Redis client the library takes: ioredis 5/6 (single node, Sentinel, Cluster) or
 * node-redis 4/5. Typed loosely so that neither client is a dependency; the kind is
 * checked at start-up.
 */
export type RedisLike = object;
export type { SpaceSessionData } from './augment';
export { spaceAuthorize } from './teams/authorize';
export type { SpaceAuthorizeOptions } from './teams/authorize';
export type { SpaceMember, SpaceMemberTeam, SpaceMemberRole } from './teams/rules';
export { spaceSessions, endSpaceSessionsOf } from './signout/everywhere';
export type { SpaceSessions, SpaceSessionInfo } from './signout/everywhere';
