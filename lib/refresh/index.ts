/**
 * `spaceTokenRefresh`, the middleware that gives each request a valid access token, and
 * `spaceApi(req)`, Space's API as the signed-in member with one renewal on an expired token.
 */
export { spaceTokenRefresh } from './middleware';
export type { SpaceTokenRefreshOptions } from './middleware';
export { spaceApi } from './space-api';
export type { SpaceApi } from './space-api';
