/**
 * The options: SpaceStrategy's own (checked once, defaults applied) and the shared settings
 * several parts give (one copy per strategy; a value given twice must agree).
 */
export { LOCK_MARGIN, pauseAfterFailure, SHARED_OPTION_NAMES, SharedSettingsRegistry, checkShared } from './shared-settings';
export type { SharedSettings, SpaceSharedOptions } from './shared-settings';
export { addScopeToUnstarted, registerUnstarted, withScope } from './scopes';
export type { ScopeHost } from './scopes';
export { DEFAULT_RATE_LIMITS } from './operations-settings';
export type { RateLimitedEndpoint, RateLimitRule, RateLimits, SpaceRateLimitOptions, SpaceRateLimitRule } from './operations-settings';
export { resolveOptions, signInCookieOf } from './strategy-options';
export type { ResolvedOptions, SpaceStrategyOptions, SpaceStrategyOptionsWithRequest, SpaceStrategyOptionsWithoutRequest, SpaceTokenParams, SpaceVerified, SpaceVerify, SpaceVerifyFunction, SpaceVerifyFunctionWithParams, SpaceVerifyFunctionWithRequest, SpaceVerifyFunctionWithRequestAndParams, SpaceVerifyWithRequest } from './strategy-options';
