/**
 * The emulated Space HTTP API: the current profile, the organization, avatar downloads and the
 * self-revoke endpoint (docs/space-api.md#endpoints, #profile).
 *
 * Every call needs `Authorization: Bearer`. Errors use Space's API shape and exact texts, since
 * SDK logic depends on them (docs/space-api.md#api-errors): an expired token gets
 * "Access token has expired" (the Kotlin SDK refreshes and retries on it), a token of a revoked
 * grant gets "Refresh token associated with the access token is revoked".
 */
import { createHash } from 'node:crypto';
import { avatarSvg, findAvatarOwner } from './avatars.js';
import type { EmulatorRequest, EmulatorState } from './context.js';
import { FieldsError, applyFields, type Json } from './fields.js';
import { checkBearer, type BearerResult } from './bearer.js';
import type { SpaceEmulatorUser } from './options.js';
import { apiError, bodyReply, emptyReply, jsonReply, type Reply } from './reply.js';
import { scopeAllows } from './scope.js';

/** Path of the self-revoke endpoint (docs/space-api.md#endpoints.NET SDK `DeleteSelfAsync`). */
export const REVOKE_SELF_PATH = '/api/http/team-directory/profiles/oauth-consents/me/refresh-tokens/self';

/** Checks the bearer token of an API call (see bearer.ts): signature, grant, revocation, expiry. */
export function authenticateBearer(state: EmulatorState, req: EmulatorRequest): BearerResult {
  return checkBearer(state, req);
}

/** Stable short id derived from `seed` (email and organization ids must not change between calls). */
function derivedID(seed: string): string {
  return createHash('sha256').update(seed).digest('base64url').slice(0, 12);
}

/** A user as a `TD_MemberProfile` (docs/space-api.md#profile): the fields sign-in code reads, plus the always-present flags. */
export function memberProfile(user: SpaceEmulatorUser): Json {
  return {
    id: user.id,
    username: user.username,
    name: { firstName: user.firstName, lastName: user.lastName },
    speaksEnglish: true,
    smallAvatar: user.smallAvatar ?? null,
    avatar: user.avatar ?? null,
    profilePicture: user.profilePicture ?? null,
    about: user.about ?? null,
    archived: false,
    notAMember: false,
    joined: null,
    externalId: null,
    languages: [],
    emails: (user.emails ?? []).map((e) => ({ id: derivedID(`${user.id}\n${e.email}`), email: e.email, verified: e.verified ?? false })),
  };
}

/** Applies `$fields` from the query; a malformed query or selection is a 400 `validation-error`. */
export function project(req: EmulatorRequest, value: Json, whenAbsent: (v: Json) => Json = (v) => v): Reply {
  if (req.query === null) return apiError(400, 'validation-error', 'The query string is malformed.');
  if (req.query.duplicates().includes('$fields')) return apiError(400, 'validation-error', '$fields is repeated.');
  const fields = req.query.get('$fields');
  try {
    return jsonReply(200, fields === undefined ? whenAbsent(value) : applyFields(value, fields));
  } catch (err) {
    if (err instanceof FieldsError) return apiError(400, 'validation-error', err.message);
    throw err;
  }
}

/** `GET /api/http/team-directory/profiles/me`. */
export function handleProfile(state: EmulatorState, req: EmulatorRequest): Reply {
  const auth = authenticateBearer(state, req);
  if (!auth.ok) return auth.reply;
  if (!scopeAllows(auth.claims.scope, state.options.profileScopes)) {
    return apiError(403, 'permission-denied', `The access token lacks the permission to view member profiles (${state.options.profileScopes.join(' or ')}).`);
  }
  const user = state.users.find((u) => u.id === auth.grant.userID);
  if (!user) return apiError(404, 'not-found', 'The profile does not exist.');
  return project(req, memberProfile(user), (profile) => {
    if (state.options.listsWithoutFields || typeof profile !== 'object' || profile === null || Array.isArray(profile)) return profile;
    const { emails: _emails, languages: _languages, ...rest } = profile;
    return rest;
  });
}

/** `GET /api/http/organization`: an `OrganizationRecord` (docs/space-api.md#endpoints). */
export function handleOrganization(state: EmulatorState, req: EmulatorRequest): Reply {
  const auth = authenticateBearer(state, req);
  if (!auth.ok) return auth.reply;
  if (!scopeAllows(auth.claims.scope, state.options.organizationScopes)) {
    return apiError(403, 'permission-denied', 'The access token lacks the permission to view organization info.');
  }
  const { name, slogan } = state.options.organization;
  return project(req, { id: derivedID(`org\n${name}`), orgId: derivedID(`orgId\n${name}`), name, slogan, logoId: null });
}

/** `GET /d/<id>`: an avatar attachment, as a generated SVG. Needs a bearer token, like Space (docs/space-api.md#avatars). */
export function handleAttachment(state: EmulatorState, req: EmulatorRequest): Reply {
  const auth = authenticateBearer(state, req);
  if (!auth.ok) return auth.reply;
  let id: string;
  try {
    id = decodeURIComponent(req.path.slice('/d/'.length));
  } catch {
    return apiError(404, 'not-found', 'No such attachment.');
  }
  const owner = id === '' ? undefined : findAvatarOwner(state.users, id);
  if (!owner) return apiError(404, 'not-found', 'No such attachment.');
  return bodyReply(200, 'image/svg+xml', avatarSvg(owner, id), {
    'Cache-Control': 'private, max-age=3600',
    // An SVG opened directly is a document; this one has no scripts and may load nothing.
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'",
  });
}

/** `DELETE .../oauth-consents/me/refresh-tokens/self`: revokes the caller's grant (refresh token and access tokens). */
export function handleRevokeSelf(state: EmulatorState, req: EmulatorRequest): Reply {
  const auth = authenticateBearer(state, req);
  if (!auth.ok) return auth.reply;
  state.store.revokeGrant(auth.grant.id);
  return emptyReply(200);
}
