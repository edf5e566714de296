/**
 * The signed-in user as this app keeps it in the session: a few profile fields, never a
 * token and never Space's raw answer (the library keeps the tokens server-side itself).
 */
import type { Request } from 'express';
import type { SpaceProfile } from 'passport-jetbrains-space';

export interface AppUser {
  id: string;
  username: string;
  displayName: string;
  emails: Array<{ value: string; verified: boolean }>;
  /** Space attachment id of the avatar, served through /avatar/<id>. */
  avatar: string | null;
}

/**
 * `req.user`, typed. (A global `Express.User` augmentation would do the same, but it would
 * also apply to every other file compiled with the app; a typed accessor keeps it local.)
 */
export function currentUser(req: Request): AppUser | undefined {
  return req.user as AppUser | undefined;
}

const ATTACHMENT_ID = /^[A-Za-z0-9_-]{1,128}$/;

function attachmentID(value: unknown): string | null {
  return typeof value === 'string' && ATTACHMENT_ID.test(value) ? value : null;
}

/** What the verify callback stores: only what the pages show. */
export function toUser(profile: SpaceProfile): AppUser {
  const json = profile._json ?? {};
  return {
    id: profile.id,
    username: profile.username,
    displayName: profile.displayName || profile.username,
    emails: profile.emails.slice(0, 10).map((e) => ({ value: e.value, verified: e.verified })),
    avatar: attachmentID(json.avatar) ?? attachmentID(json.profilePicture) ?? attachmentID(json.smallAvatar),
  };
}

/** Up to two initials, for users without an avatar. */
export function initialsOf(user: Pick<AppUser, 'displayName' | 'username'>): string {
  const words = (user.displayName || user.username).split(/[\s._-]+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : [words[0]];
  return letters.map((w) => [...(w ?? '')][0] ?? '').join('').toUpperCase() || '?';
}
