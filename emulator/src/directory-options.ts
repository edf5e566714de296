/**
 * The `teams`, `roles` and `memberships` options: their defaults (a small, realistic
 * organization for the default users) and the check that turns them into directory data.
 */
import {
  checkMemberships,
  checkRoles,
  checkTeams,
  type ResolvedMembership,
  type ResolvedTeam,
  type SpaceEmulatorMembership,
  type SpaceEmulatorRole,
  type SpaceEmulatorTeam,
} from './directory.js';
import { findUser, type SpaceEmulatorUser } from './members.js';

/**
 * Default teams: `Acme › Platform › Storage`, `Acme › Marketing`, and an archived
 * `Acme › Legacy Tools`.
 */
export function defaultTeams(): SpaceEmulatorTeam[] {
  return [
    { id: 'team-acme', name: 'Acme', parentId: null },
    { id: 'team-platform', name: 'Platform', parentId: 'team-acme' },
    { id: 'team-storage', name: 'Storage', parentId: 'team-platform' },
    { id: 'team-marketing', name: 'Marketing', parentId: 'team-acme' },
    { id: 'team-legacy', name: 'Legacy Tools', parentId: 'team-acme', archived: true },
  ];
}

/** Default roles. The first one is what a membership without `roleId` gets. */
export function defaultRoles(): SpaceEmulatorRole[] {
  return [
    { id: 'role-lead', name: 'Team Lead' },
    { id: 'role-engineer', name: 'Engineer' },
    { id: 'role-designer', name: 'Designer' },
  ];
}

/**
 * Default memberships. In effect: john.doe leads Storage (and so is in Platform and Acme through
 * nesting), jane.roe is a Designer in Marketing. Not in effect, for tests of filtering: an
 * archived membership of john.doe (Legacy Tools), an ended one of jane.roe (Platform, `till` in
 * the past), and one of jane.roe in Storage that still requires approval.
 */
export function defaultMemberships(): SpaceEmulatorMembership[] {
  return [
    { id: 'membership-john-storage', member: 'john.doe', teamId: 'team-storage', roleId: 'role-lead', lead: true, since: '2021-03-01' },
    { id: 'membership-jane-marketing', member: 'jane.roe', teamId: 'team-marketing', roleId: 'role-designer', since: '2022-06-15' },
    { id: 'membership-john-legacy', member: 'john.doe', teamId: 'team-legacy', roleId: 'role-engineer', since: '2018-01-08', till: '2020-12-31', archived: true },
    { id: 'membership-jane-platform', member: 'jane.roe', teamId: 'team-platform', roleId: 'role-engineer', since: '2019-09-02', till: '2022-06-14' },
    { id: 'membership-jane-storage', member: 'jane.roe', teamId: 'team-storage', roleId: 'role-engineer', requiresApproval: true },
  ];
}

/** The directory part of the resolved options. */
export interface ResolvedDirectory {
  teams: ResolvedTeam[];
  roles: SpaceEmulatorRole[];
  memberships: ResolvedMembership[];
}

const WHERE = 'startSpaceEmulator';

/**
 * Checks `teams`, `roles` and `memberships` against `users`; a bad value throws a TypeError
 * naming the option. The default memberships apply only when teams and roles are the defaults
 * too, and only to default users that exist (custom `users` may lack john.doe or jane.roe).
 */
export function resolveDirectory(
  options: { teams?: unknown; roles?: unknown; memberships?: unknown },
  users: readonly SpaceEmulatorUser[],
): ResolvedDirectory {
  const teams = checkTeams(WHERE, options.teams ?? defaultTeams());
  const roles = checkRoles(WHERE, options.roles ?? defaultRoles());

  let given = options.memberships;
  if (given === undefined) {
    const defaultsFit = options.teams === undefined && options.roles === undefined;
    given = defaultsFit ? defaultMemberships().filter((m) => findUser(users, m.member)) : [];
  }
  if (!Array.isArray(given)) throw new TypeError(`${WHERE}: option "memberships" must be a list of { member, teamId, ... }`);
  const teamsById = new Map(teams.map((t) => [t.id, t]));
  const memberships = given.flatMap((m: unknown, i) => {
    const member = typeof m === 'object' && m !== null ? (m as { member?: unknown }).member : undefined;
    const user = typeof member === 'string' ? findUser(users, member) : undefined;
    if (!user) throw new TypeError(`${WHERE}: option "memberships[].member" must be the id or username of a known user (got ${JSON.stringify(member)})`);
    return checkMemberships(WHERE, 'memberships', user.id, [m], teamsById, roles, i);
  });
  if (new Set(memberships.map((m) => m.id)).size !== memberships.length) {
    throw new TypeError(`${WHERE}: option "memberships" must be a list with unique ids`);
  }
  return { teams, roles, memberships };
}
