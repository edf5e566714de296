/**
 * The emulated team directory: teams (which nest), roles, and the memberships that put users in
 * teams with a role. It answers `GET /api/http/team-directory/memberships` (see memberships.ts).
 *
 * Everything is checked once, at start or on `setMemberships`, so the handler can trust the data.
 */
import { createHash } from 'node:crypto';
import type { Json } from './fields.js';
import type { SpaceEmulatorUser } from './members.js';

/** A team. `parentId` makes teams nest (`Acme › Platform › Storage`); null or absent for a root team. */
export interface SpaceEmulatorTeam {
  id: string;
  name: string;
  parentId?: string | null;
  archived?: boolean;
}

/** A role a member holds in a team, e.g. "Team Lead". */
export interface SpaceEmulatorRole {
  id: string;
  name: string;
}

/** A membership without its member: what `setMemberships(user, [...])` takes. */
export interface SpaceEmulatorMembershipInput {
  /** Membership id; default a stable id derived from member, team, role and position. */
  id?: string;
  teamId: string;
  /** Default: the first role of `roles`. */
  roleId?: string;
  /** True for the team's lead; default false. */
  lead?: boolean;
  /** First day, `YYYY-MM-DD`; default none (null). */
  since?: string;
  /** Last day, `YYYY-MM-DD`; default none (null). A past `till` is still listed: it is the client's job to check. */
  till?: string;
  /** Archived memberships are listed only with `withArchived=true`; default false. */
  archived?: boolean;
  /** A membership waiting for approval; default false. */
  requiresApproval?: boolean;
}

/** A membership of the `memberships` option: `member` is a user id or username. */
export interface SpaceEmulatorMembership extends SpaceEmulatorMembershipInput {
  member: string;
}

/** A checked team: every field present. */
export interface ResolvedTeam {
  readonly id: string;
  readonly name: string;
  readonly parentId: string | null;
  readonly archived: boolean;
}

/** A checked membership: member resolved to a user id, defaults applied. */
export interface ResolvedMembership {
  readonly id: string;
  readonly userID: string;
  readonly teamId: string;
  readonly roleId: string;
  readonly lead: boolean;
  readonly since: string | null;
  readonly till: string | null;
  readonly archived: boolean;
  readonly requiresApproval: boolean;
}

/** Throws the emulator's option TypeError: `<where>: option "<option>" must be <expected>`. */
function fail(where: string, option: string, expected: string): never {
  throw new TypeError(`${where}: option "${option}" must be ${expected}`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v !== '';

function optionalBool(where: string, option: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') fail(where, option, 'a boolean');
  return value;
}

/** `YYYY-MM-DD` that names a real calendar day. */
function optionalDate(where: string, option: string, value: unknown): string | null {
  if (value === undefined || value === null) return null;
  const ok = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value) && new Date(`${value}T00:00:00Z`).toISOString().startsWith(value);
  if (!ok) fail(where, option, 'a date "YYYY-MM-DD"');
  return value;
}

/** Checks the teams: unique ids, known parents, no cycles. */
export function checkTeams(where: string, value: unknown): ResolvedTeam[] {
  if (!Array.isArray(value)) fail(where, 'teams', 'a list of { id, name, parentId?, archived? }');
  const teams = value.map((t: unknown): ResolvedTeam => {
    if (!isObject(t)) fail(where, 'teams', 'a list of { id, name, parentId?, archived? }');
    if (!nonEmpty(t.id)) fail(where, 'teams[].id', 'a non-empty string');
    if (typeof t.name !== 'string') fail(where, 'teams[].name', 'a string');
    if (t.parentId !== undefined && t.parentId !== null && !nonEmpty(t.parentId)) fail(where, 'teams[].parentId', 'a team id or null');
    return { id: t.id, name: t.name, parentId: (t.parentId as string | null | undefined) ?? null, archived: optionalBool(where, 'teams[].archived', t.archived) };
  });
  const byId = new Map(teams.map((t) => [t.id, t]));
  if (byId.size !== teams.length) fail(where, 'teams', 'a list with unique ids');
  for (const team of teams) {
    const seen = new Set<string>();
    for (let t: ResolvedTeam | undefined = team; t?.parentId != null; t = byId.get(t.parentId)) {
      if (!byId.has(t.parentId)) fail(where, 'teams[].parentId', `the id of a listed team (got "${t.parentId}")`);
      if (seen.has(t.id)) fail(where, 'teams[].parentId', 'free of cycles');
      seen.add(t.id);
    }
  }
  return teams;
}

/** Checks the roles: unique, non-empty ids. */
export function checkRoles(where: string, value: unknown): SpaceEmulatorRole[] {
  if (!Array.isArray(value)) fail(where, 'roles', 'a list of { id, name }');
  const roles = value.map((r: unknown) => {
    if (!isObject(r) || !nonEmpty(r.id) || typeof r.name !== 'string') fail(where, 'roles', 'a list of { id, name }');
    return { id: r.id, name: r.name };
  });
  if (new Set(roles.map((r) => r.id)).size !== roles.length) fail(where, 'roles', 'a list with unique ids');
  return roles;
}

/** A stable, Space-looking id. */
function derivedID(seed: string): string {
  return createHash('sha256').update(seed).digest('base64url').slice(0, 12);
}

/** Checks one user's memberships against the teams and roles; `option` names the list in errors. */
export function checkMemberships(
  where: string,
  option: string,
  userID: string,
  value: unknown,
  teams: ReadonlyMap<string, ResolvedTeam>,
  roles: readonly SpaceEmulatorRole[],
  firstIndex = 0,
): ResolvedMembership[] {
  if (!Array.isArray(value)) fail(where, option, 'a list of memberships');
  return value.map((m: unknown, i): ResolvedMembership => {
    if (!isObject(m)) fail(where, option, 'a list of { teamId, roleId?, lead?, since?, till?, archived?, requiresApproval? }');
    if (!nonEmpty(m.teamId) || !teams.has(m.teamId)) fail(where, `${option}[].teamId`, `the id of a known team (got ${JSON.stringify(m.teamId)})`);
    const roleId = m.roleId ?? roles[0]?.id;
    if (roleId === undefined) fail(where, `${option}[].roleId`, 'given when "roles" is empty');
    if (!nonEmpty(roleId) || !roles.some((r) => r.id === roleId)) fail(where, `${option}[].roleId`, `the id of a known role (got ${JSON.stringify(roleId)})`);
    if (m.id !== undefined && !nonEmpty(m.id)) fail(where, `${option}[].id`, 'a non-empty string');
    const since = optionalDate(where, `${option}[].since`, m.since);
    const till = optionalDate(where, `${option}[].till`, m.till);
    if (since !== null && till !== null && since > till) fail(where, `${option}[].till`, 'on or after "since"');
    return {
      id: (m.id as string | undefined) ?? derivedID(`membership\n${userID}\n${m.teamId}\n${roleId}\n${firstIndex + i}`),
      userID,
      teamId: m.teamId,
      roleId,
      lead: optionalBool(where, `${option}[].lead`, m.lead),
      since,
      till,
      archived: optionalBool(where, `${option}[].archived`, m.archived),
      requiresApproval: optionalBool(where, `${option}[].requiresApproval`, m.requiresApproval),
    };
  });
}

/** A Space date object (`{ iso, timestamp }`, UTC midnight), or null. */
function spaceDate(day: string | null): Json {
  return day === null ? null : { iso: day, timestamp: Date.parse(`${day}T00:00:00Z`) };
}

/** The mutable directory of one emulator. */
export class Directory {
  private readonly teamsById: ReadonlyMap<string, ResolvedTeam>;
  private readonly byUser = new Map<string, ResolvedMembership[]>();

  constructor(
    readonly teams: readonly ResolvedTeam[],
    readonly roles: readonly SpaceEmulatorRole[],
    memberships: readonly ResolvedMembership[],
  ) {
    this.teamsById = new Map(teams.map((t) => [t.id, t]));
    for (const m of memberships) this.byUser.set(m.userID, [...(this.byUser.get(m.userID) ?? []), m]);
  }

  /** Replaces one user's memberships; throws a TypeError (naming `setMemberships`) for bad input. */
  setMemberships(user: SpaceEmulatorUser, memberships: unknown): void {
    const checked = checkMemberships('setMemberships', 'memberships', user.id, memberships, this.teamsById, this.roles);
    const ids = new Set(checked.map((m) => m.id));
    const taken = [...this.byUser].some(([userID, list]) => userID !== user.id && list.some((m) => ids.has(m.id)));
    if (ids.size !== checked.length || taken) fail('setMemberships', 'memberships[].id', 'unique across all memberships');
    this.byUser.set(user.id, checked);
  }

  /** Memberships of the given users (all users when null), in a stable order: by user, then as given. */
  list(userIDs: readonly string[] | null): ResolvedMembership[] {
    if (userIDs === null) return [...this.byUser.values()].flat();
    return [...new Set(userIDs)].flatMap((id) => this.byUser.get(id) ?? []);
  }

  /** A `TD_Team` with its whole parent chain (checked acyclic). */
  teamJson(id: string): Json {
    const team = this.teamsById.get(id);
    if (!team) return null;
    return { id: team.id, name: team.name, parent: team.parentId === null ? null : this.teamJson(team.parentId), archived: team.archived };
  }

  /** A `TD_Membership`. */
  membershipJson(m: ResolvedMembership, users: readonly SpaceEmulatorUser[]): Json {
    const user = users.find((u) => u.id === m.userID);
    const role = this.roles.find((r) => r.id === m.roleId);
    return {
      id: m.id,
      member: user ? { id: user.id, username: user.username, name: { firstName: user.firstName, lastName: user.lastName } } : null,
      team: this.teamJson(m.teamId),
      role: role ? { id: role.id, name: role.name } : null,
      lead: m.lead,
      since: spaceDate(m.since),
      till: spaceDate(m.till),
      archived: m.archived,
      requiresApproval: m.requiresApproval,
    };
  }
}
