/**
 * passport-jetbrains-space: "Sign in with JetBrains Space" for Express and Passport.
 * This file only re-exports; the emulator lives at `passport-jetbrains-space/emulator`.
 */
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
export { DEFAULT_PROFILE_FIELDS } from './profile';
export type { SpaceProfile, SpaceMemberProfileJSON } from './profile';
export type { SpaceTokenSet } from './token-set';
export { safeReturnTo } from './return-to';
export {
  SpaceError,
  SpaceAuthorizationError,
  SpaceTokenError,
  SpaceApiError,
  isSpaceError,
} from './errors';
export type { SpaceErrorCode } from './errors';
export { spaceTokenRefresh, SpaceSessionEndedError } from './refresh';
export type { SpaceTokenRefreshOptions, SpaceTokenEvent } from './refresh';
export { spaceApi } from './api';
export type { SpaceApi } from './api';
export type { SpaceApiCallOptions } from './space-client';
export type { RedisLike } from './token-store';
export { RedisUnavailableError } from './token-store';
export { spaceErrorHandler, isRedisOutage } from './error-handler';
export type { SpaceErrorHandlerOptions } from './error-handler';
export { spaceSignOut } from './sign-out';
export type { SpaceSignOutOptions } from './sign-out';
export type { SpaceSessionData } from './augment';
