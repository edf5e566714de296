/**
 * passport-jetbrains-space: "Sign in with JetBrains Space" for Express and Passport.
 * This file only re-exports; the emulator lives at `passport-jetbrains-space/emulator`.
 */
import './runtime';

export { SpaceStrategy } from './strategy';
export type { SpaceAuthenticateOptions, SpaceAuthInfo } from './signin';
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
} from './config';
export type { SpaceSharedOptions } from './config';
export type { SpaceRateLimitOptions, SpaceRateLimitRule } from './config';
export { DEFAULT_PROFILE_FIELDS } from './space';
export type { SpaceProfile, SpaceMemberProfileJSON } from './space';
export type { SpaceTokenSet } from './tokens';
export { safeReturnTo } from './web';
export {
  SpaceError,
  SpaceAuthorizationError,
  SpaceTokenError,
  SpaceApiError,
  SpaceSessionEndedError,
  RedisUnavailableError,
  isSpaceError,
  isRedisOutage,
} from './core';
export type { SpaceErrorCode } from './core';
export { spaceTokenRefresh } from './refresh';
export type { SpaceTokenRefreshOptions } from './refresh';
export type { SpaceTokenEvent } from './core';
export { spaceApi } from './refresh';
export type { SpaceApi } from './refresh';
export type { SpaceApiCallOptions } from './space';
export { spaceErrorHandler } from './web';
export type { SpaceErrorHandlerOptions } from './web';
export { spaceSignOut } from './signout';
export type { SpaceSignOutOptions } from './signout';
export { spaceAppClient } from './app-client';
export type { SpaceAppClient, SpaceAppClientOptions, SpaceAppToken } from './app-client';
export type { AppTokenStore, CachedAppToken } from './app-client';
export { SpaceBearerStrategy } from './bearer';
export type {
  SpaceBearerOptions,
  SpaceBearerAuthenticateOptions,
  SpaceBearerPrincipal,
  SpaceUserPrincipal,
  SpaceApplicationPrincipal,
  SpaceBearerInfo,
  SpaceBearerVerify,
  SpaceBearerVerifyWithRequest,
} from './bearer';
export { verifySpaceRequest } from './webhooks';
export type { VerifySpaceRequestOptions, SpaceRequestMethod } from './webhooks';
export { spaceRawBody } from './webhooks';
export { spaceEvents } from './space-events';
export type { SpaceEventOutcome, SpaceEventsOptions } from './space-events';

/**
 * The Redis client the library takes: ioredis 5/6 (single node, Sentinel, Cluster) or
 * node-redis 4/5. Typed loosely so that neither client is a dependency; the kind is
 * checked at start-up.
 */
export type RedisLike = object;
export type { SpaceSessionData } from './augment';
export { spaceAuthorize } from './teams';
export type { SpaceAuthorizeOptions, SpaceAuthorizeUser } from './teams';
export type { SpaceMember, SpaceMemberTeam, SpaceMemberRole } from './teams';
export { spaceSessions, endSpaceSessionsOf } from './signout';
export type { SpaceSessions, SpaceSessionInfo } from './signout';
export { spaceAuth } from './auth';
export type { SpaceAuthOptions, SpaceAuthRouter, SpaceAuthRoutes, SpaceAuthSessionOptions, SpaceAuthStrategyOptions, SpacePassport } from './auth';
export { spaceHealth } from './health';
export type { SpaceHealthOptions, SpaceHealthStatus } from './health';
export type { SpaceAuditEvent, SpaceAuditEventType } from './telemetry';
