/**
 * `SpaceBearerStrategy` ('space-bearer'): Space tokens on your API, checked by signature (RS512
 * with Space's keys) or by asking Space.
 */
export { SpaceBearerStrategy } from './strategy';
export type { SpaceApplicationPrincipal, SpaceBearerAuthenticateOptions, SpaceBearerInfo, SpaceBearerOptions, SpaceBearerPrincipal, SpaceBearerVerify, SpaceBearerVerifyWithRequest, SpaceUserPrincipal } from './strategy';
