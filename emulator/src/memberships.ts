/**
 * `GET /api/http/team-directory/memberships`: a batch of `TD_Membership`s, the way an app finds
 * out which teams the signed-in user is in (`?profiles=me`).
 *
 * Supported query parameters: `profiles` (`me`, a profile id or `username:<name>`; comma
 * separated or repeated; absent = every member), `withArchived` (default false), `$skip`, `$top`
 * (default 100) and `$fields`. Other filters Space has (`teams`, `roles`, `since`, ...) are
 * ignored. The answer is Space's batch shape `{ next, totalCount, data }`, where `next` is the
 * `$skip` of the following page; a client has read everything once `next` reaches `totalCount`
 * (or a page comes back empty).
 */
import { authenticateBearer, project } from './api.js';
import type { EmulatorRequest, EmulatorState } from './context.js';
import { apiError, type Reply } from './reply.js';
import { scopeAllows } from './scope.js';

/** Path of the memberships endpoint. */
export const MEMBERSHIPS_PATH = '/api/http/team-directory/memberships';

/** Default page size, as Space's batch endpoints use. */
const DEFAULT_TOP = 100;

/** Parameters that must not repeat: which value would win is not something a client should rely on. */
const SINGLE = ['$fields', '$skip', '$top', 'withArchived'];

type Parsed<T> = { ok: true; value: T } | { ok: false; reply: Reply };

const invalid = (description: string): { ok: false; reply: Reply } => ({ ok: false, reply: apiError(400, 'validation-error', description) });

function nonNegativeInteger(name: string, raw: string | undefined, fallback: number): Parsed<number> {
  if (raw === undefined) return { ok: true, value: fallback };
  if (!/^\d{1,9}$/.test(raw)) return invalid(`${name} must be a non-negative integer.`);
  return { ok: true, value: Number(raw) };
}

/** Resolves `profiles` values to user ids; null means no filter. An unknown profile is a 404. */
function profileFilter(state: EmulatorState, values: string[], me: string): Parsed<string[] | null> {
  const wanted = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  if (wanted.length === 0) return { ok: true, value: null };
  const ids: string[] = [];
  for (const w of wanted) {
    const user = w === 'me' ? state.users.find((u) => u.id === me)
      : w.startsWith('username:') ? state.users.find((u) => u.username === w.slice('username:'.length))
      : state.users.find((u) => u.id === w);
    if (!user) return { ok: false, reply: apiError(404, 'not-found', 'No such profile.') };
    ids.push(user.id);
  }
  return { ok: true, value: ids };
}

/** `GET /api/http/team-directory/memberships`. */
export function handleMemberships(state: EmulatorState, req: EmulatorRequest): Reply {
  const auth = authenticateBearer(state, req);
  if (!auth.ok) return auth.reply;
  const scopes = state.options.membershipScopes;
  if (!scopeAllows(auth.claims.scope, scopes)) {
    return apiError(403, 'permission-denied', `The access token lacks the permission to view memberships (${scopes.join(' or ')}).`);
  }
  const query = req.query;
  if (query === null) return apiError(400, 'validation-error', 'The query string is malformed.');
  const repeated = query.duplicates().filter((n) => SINGLE.includes(n));
  if (repeated.length > 0) return apiError(400, 'validation-error', `Repeated parameter: ${repeated.join(', ')}`);

  const withArchived = query.get('withArchived') ?? 'false';
  if (withArchived !== 'true' && withArchived !== 'false') return apiError(400, 'validation-error', 'withArchived must be true or false.');
  const skip = nonNegativeInteger('$skip', query.get('$skip'), 0);
  if (!skip.ok) return skip.reply;
  const top = nonNegativeInteger('$top', query.get('$top'), DEFAULT_TOP);
  if (!top.ok) return top.reply;
  const profiles = profileFilter(state, query.getAll('profiles'), auth.grant.userID);
  if (!profiles.ok) return profiles.reply;

  const all = state.directory.list(profiles.value).filter((m) => withArchived === 'true' || !m.archived);
  const page = all.slice(skip.value, skip.value + top.value);
  return project(req, {
    next: String(skip.value + page.length),
    totalCount: all.length,
    data: page.map((m) => state.directory.membershipJson(m, state.users)),
  });
}
