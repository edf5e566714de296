/**
 * `spaceAuthorize`: admitting requests by Space teams, roles, usernames and email domains; the
 * member facts read from Space and cached in Redis.
 */
export { spaceAuthorize } from './authorize';
export type { SpaceAuthorizeOptions, SpaceAuthorizeUser } from './authorize';
export type { SpaceMember, SpaceMemberRole, SpaceMemberTeam } from './rules';
