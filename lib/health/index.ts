/**
 * `spaceHealth`: an Express handler for load balancers that says whether Redis and Space answer,
 * each check reused for a few seconds.
 */
export { spaceHealth } from './health';
export type { SpaceHealthOptions, SpaceHealthStatus } from './health';
