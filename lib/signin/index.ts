/**
 * Signing in: the start (pending sign-in stored, then the redirect to Space), the callback (state,
 * code exchange, profile, verify, login), the browsers' pending sign-ins, and gate mode. The steps
 * take a `SignInHost` (what they need of the strategy), never the class.
 */
export { completeSignIn } from './callback';
export { forgetSignInCompleted } from './diagnose';
export { gate } from './gate';
export type { SpaceAuthInfo, SpaceAuthenticateOptions } from './host';
export { browserOf, PendingStore } from './pending';
export { createSignInURL, startSignIn } from './start';
