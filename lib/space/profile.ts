import type { Profile } from 'passport';
import { isRecord } from './call';

/**
 * The `$fields` asked of `GET /api/http/team-directory/profiles/me` by default: what the
 * normalized profile needs. Space returns only top-level scalars without `$fields`, so
 * lists like `emails` must be asked for by name (docs/space-api.md#profile).
 */
export const DEFAULT_PROFILE_FIELDS = 'id,username,name(firstName,lastName),emails(email,verified),avatar,smallAvatar,profilePicture';

/** A Space team-directory profile (`TD_MemberProfile`), the fields this library reads. */
export interface SpaceMemberProfileJSON {
  id: string;
  username?: string;
  name?: { firstName?: string; lastName?: string };
  emails?: Array<{ email?: string; verified?: boolean }>;
  avatar?: string | null;
  smallAvatar?: string | null;
  profilePicture?: string | null;
  [field: string]: unknown;
}

/** The normalized Passport profile of a Space user. */
export interface SpaceProfile extends Profile {
  provider: 'space';
  id: string;
  username: string;
  displayName: string;
  name: { givenName: string; familyName: string };
  emails: Array<{ value: string; verified: boolean }>;
  /** Avatar URLs (`<spaceURL>/d/<id>`), largest first. They need the user's bearer token: serve them through your app. */
  photos: Array<{ value: string }>;
  /**
   * The raw JSON text Space answered. Not enumerable: it is there for the verify callback,
   * but never serialized into a session (Space's answer can be up to 1 MB).
   */
  _raw: string;
  /** The parsed JSON Space answered. Not enumerable, like `_raw`. */
  _json: SpaceMemberProfileJSON;
}

const MAX_TEXT = 256;
const MAX_EMAILS = 50;
/** Avatar ids, largest picture first. */
const PHOTO_FIELDS = ['profilePicture', 'avatar', 'smallAvatar'] as const;
const PHOTO_ID = /^[A-Za-z0-9_-]{1,128}$/;

function text(value: unknown): string {
  return typeof value === 'string' ? value.slice(0, MAX_TEXT) : '';
}

/**
 * Maps Space's profile JSON to a Passport profile. Pure: no I/O. Fields are copied from an
 * allow-list with length caps, so hostile content cannot grow the session or pollute
 * prototypes.
 *
 * @returns the profile, or a string saying what is wrong with the JSON.
 */
export function toSpaceProfile(json: unknown, raw: string, spaceURL: string): SpaceProfile | string {
  if (!isRecord(json)) return 'the body is not a JSON object';
  if (typeof json.id !== 'string' || json.id.length === 0) return '"id" is missing or not a string';
  const name = isRecord(json.name) ? json.name : {};
  const givenName = text(name.firstName);
  const familyName = text(name.lastName);
  const username = text(json.username);
  // Plain loops: this runs at every sign-in.
  const emails: Array<{ value: string; verified: boolean }> = [];
  if (Array.isArray(json.emails)) {
    for (const e of json.emails) {
      if (emails.length === MAX_EMAILS) break;
      if (isRecord(e) && typeof e.email === 'string' && e.email.length > 0) emails.push({ value: text(e.email), verified: e.verified === true });
    }
  }
  const photos: Array<{ value: string }> = [];
  const seen: string[] = [];
  for (const field of PHOTO_FIELDS) {
    const id = json[field];
    if (typeof id !== 'string' || !PHOTO_ID.test(id) || seen.includes(id)) continue;
    seen.push(id);
    photos.push({ value: `${spaceURL}/d/${encodeURIComponent(id)}` });
  }
  const profile = {
    provider: 'space',
    id: json.id.slice(0, MAX_TEXT),
    username,
    displayName: [givenName, familyName].filter(Boolean).join(' ') || username,
    name: { givenName, familyName },
    emails,
    photos,
  } as SpaceProfile;
  // What `serializeUser((u, d) => d(null, u))` puts in the session stays bounded (about
  // 14 KB at most: 256 characters a field, 50 emails, 3 photos), whatever Space answers.
  Object.defineProperties(profile, { _raw: { value: raw, enumerable: false }, _json: { value: json, enumerable: false } });
  return profile;
}
