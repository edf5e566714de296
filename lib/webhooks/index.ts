/**
 * `verifySpaceRequest` and `spaceRawBody`: checking requests Space sends to the app (public key,
 * signing key, or verification token).
 */
export { spaceRawBody } from './raw-body';
export { verifySpaceRequest } from './verify-request';
export type { SpaceRequestMethod, VerifySpaceRequestOptions } from './verify-request';
