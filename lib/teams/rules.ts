import { isRecord } from '../core';

/** A team the user is a member of, as {@link SpaceMember} lists it. */
export interface SpaceMemberTeam {
  id: string;
  name: string;
  /** Team names from the root down to this team, e.g. `['Acme', 'Platform', 'Storage']`. */
  path: string[];
  /** The ids of the same teams, root first; the last one is `id`. */
  pathIds: string[];
  /** True when the user leads this team (Space's `lead`). */
  lead: boolean;
}

/** A role the user holds in at least one team. */
export interface SpaceMemberRole {
  id: string;
  name: string;
}

/**
 * What Space says about the signed-in user's place in the organization, as `req.spaceMember`
 * holds it after {@link spaceAuthorize}: the teams they are a member of now (memberships that
 * are archived, waiting for approval, not started yet or ended are left out), and their roles
 * in them. Bounded: at most {@link MAX_TEAMS} teams, {@link MAX_ROLES} roles, names of at most
 * {@link MAX_TEXT} characters.
 */
export interface SpaceMember {
  /** Space's profile id. */
  id: string;
  username: string;
  /** The profile's verified email addresses, lower-cased (unverified ones are left out: anyone can type one). */
  emails: string[];
  teams: SpaceMemberTeam[];
  roles: SpaceMemberRole[];
}

export const MAX_TEAMS = 200;
export const MAX_ROLES = 100;
export const MAX_TEXT = 200;
const MAX_EMAILS = 20;
/** Memberships read at most (pages of 100); a user in more teams than that is cut off here. */
const MAX_PAGES = 20;
const PAGE_SIZE = 100;

/** Team plus four levels of parents: deeper ancestors are not seen (see docs/team-rules.md). */
const TEAM_FIELDS = 'team(id,name,archived,parent(id,name,parent(id,name,parent(id,name,parent(id,name)))))';
export const MEMBERSHIP_FIELDS = `data(id,${TEAM_FIELDS},role(id,name),lead,since,till,archived,requiresApproval),next,totalCount`;
export const IDENTITY_FIELDS = 'id,username,emails(email,verified)';

/** The scopes that let a token read memberships (`**` grants everything). */
export const MEMBERSHIP_SCOPES = ['global:Profile.Memberships.View', 'Profile.Memberships.View', '**'];

export function scopeHasMemberships(scope: string | undefined): boolean {
  return (scope ?? '').split(/\s+/).some((s) => MEMBERSHIP_SCOPES.includes(s));
}

/** One GET against Space's HTTP API with the user's token; the parsed JSON. */
export type SpaceGet = (path: string, query: Record<string, string>) => Promise<unknown>;

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value.slice(0, MAX_TEXT) : undefined);

/** A Space date (`{ iso: 'YYYY-MM-DD', timestamp }`) as `YYYY-MM-DD`, or undefined when absent. */
function day(value: unknown): string | undefined | null {
  if (value === null || value === undefined) return undefined;
  if (isRecord(value) && typeof value.iso === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value.iso)) return value.iso.slice(0, 10);
  if (isRecord(value) && typeof value.timestamp === 'number') return new Date(value.timestamp).toISOString().slice(0, 10);
  return null; // Something we cannot read: the membership does not count.
}

/** True for a membership that counts today: not archived, approved, within `since`/`till`. */
function inEffect(m: Record<string, unknown>, today: string): boolean {
  if (m.archived === true || m.requiresApproval === true) return false;
  if (isRecord(m.team) && m.team.archived === true) return false;
  const since = day(m.since);
  const till = day(m.till);
  if (since === null || till === null) return false;
  return (since === undefined || since <= today) && (till === undefined || today <= till);
}

/** The team and its ancestors, root first (a cycle or an endless chain stops at 10). */
function chain(team: Record<string, unknown>): Array<{ id: string; name: string }> | undefined {
  const out: Array<{ id: string; name: string }> = [];
  let at: unknown = team;
  while (isRecord(at) && out.length < 10) {
    const id = text(at.id);
    if (!id) return undefined;
    out.unshift({ id, name: text(at.name) ?? id });
    at = at.parent;
  }
  return out;
}

/** Builds the bounded facts from Space's answers (the profile, and every page of memberships). */
export function memberFacts(profile: unknown, memberships: unknown[], now = Date.now()): SpaceMember {
  const today = new Date(now).toISOString().slice(0, 10);
  const p = isRecord(profile) ? profile : {};
  const emails = Array.isArray(p.emails)
    ? p.emails.map((e) => (isRecord(e) && e.verified === true ? text(e.email)?.toLowerCase() : undefined)).filter((e): e is string => Boolean(e)).slice(0, MAX_EMAILS)
    : [];
  const teams = new Map<string, SpaceMemberTeam>();
  const roles = new Map<string, SpaceMemberRole>();
  for (const m of memberships) {
    if (!isRecord(m) || !isRecord(m.team) || !inEffect(m, today)) continue;
    const path = chain(m.team);
    if (!path) continue;
    const team = path[path.length - 1]!;
    const known = teams.get(team.id);
    if (known) known.lead ||= m.lead === true;
    else if (teams.size < MAX_TEAMS) teams.set(team.id, { id: team.id, name: team.name, path: path.map((t) => t.name), pathIds: path.map((t) => t.id), lead: m.lead === true });
    const roleID = isRecord(m.role) ? text(m.role.id) : undefined;
    if (roleID && !roles.has(roleID) && roles.size < MAX_ROLES) roles.set(roleID, { id: roleID, name: text((m.role as Record<string, unknown>).name) ?? roleID });
  }
  return { id: text(p.id) ?? '', username: text(p.username) ?? '', emails, teams: [...teams.values()], roles: [...roles.values()] };
}

/**
 * Reads the user's facts from Space: their profile (id, username, emails) and every page of
 * `team-directory/memberships?profiles=me` with explicit `$fields`. Any failure rejects; a
 * partial answer is never used.
 */
export async function fetchMember(get: SpaceGet): Promise<SpaceMember> {
  const profile = get('team-directory/profiles/me', { $fields: IDENTITY_FIELDS });
  profile.catch(() => undefined); // Awaited below; a failing memberships page must not leave it unhandled.
  const memberships: unknown[] = [];
  let skip = 0;
  for (let page = 0; page < MAX_PAGES; page++) {
    const batch = await get('team-directory/memberships', { profiles: 'me', $fields: MEMBERSHIP_FIELDS, $skip: String(skip), $top: String(PAGE_SIZE) });
    const data = isRecord(batch) && Array.isArray(batch.data) ? batch.data : [];
    memberships.push(...data);
    const total = isRecord(batch) ? Number(batch.totalCount) : NaN;
    const next = isRecord(batch) ? Number(batch.next) : NaN;
    if (data.length === 0 || !Number.isFinite(next) || next <= skip || (Number.isFinite(total) && next >= total)) break;
    skip = next;
  }
  return memberFacts(await profile, memberships);
}

/** Checks a value read back from the cache (it may be damaged, or from another version). */
export function isMember(value: unknown): value is SpaceMember {
  return isRecord(value) && typeof value.id === 'string' && typeof value.username === 'string'
    && Array.isArray(value.emails) && Array.isArray(value.teams) && Array.isArray(value.roles)
    && value.teams.every((t) => isRecord(t) && typeof t.id === 'string' && typeof t.name === 'string' && Array.isArray(t.path) && Array.isArray(t.pathIds))
    && value.roles.every((r) => isRecord(r) && typeof r.id === 'string' && typeof r.name === 'string');
}
