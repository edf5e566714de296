/**
 * Session lifetimes: `idleTimeout` and `absoluteTimeout`, enforced by spaceTokenRefresh in every
 * process from a start and a last activity kept beside each sign-in's record.
 */
export { guardLifetimes, lifetimesOn, startLife } from './lifetimes';
export type { LifeVerdict } from './lifetimes';
