/**
 * `spaceAppClient`: Space as the application (Client Credentials), its token cached and renewed
 * once across processes.
 */
export { spaceAppClient } from './client';
export type { SpaceAppClient, SpaceAppClientOptions, SpaceAppToken } from './client';
export type { AppTokenStore, CachedAppToken } from './token-store';
