/**
 * `spaceAuth`: the whole set-up of "Sign in with JetBrains Space" in one call, as an Express
 * Router (sessions on Redis, Passport, the strategy, renewal, the sign-in, callback and sign-out
 * routes, the error handler, and optionally gate mode). Builds a SpaceStrategy: the one folder
 * that imports the class as a value.
 */
export { SPACE_AUTH_OPTION_NAMES, spaceAuth } from './space-auth';
export type { SpaceAuthOptions, SpaceAuthRouter, SpaceAuthRoutes, SpaceAuthSessionOptions, SpaceAuthStrategyOptions, SpacePassport } from './space-auth';
