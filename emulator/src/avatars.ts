/**
 * Generated avatar images for the `/d/<id>` attachment endpoint (docs/space-api.md#avatars) and the
 * initials badges of the sign-in page.
 *
 * The colour is derived from the attachment id, so one id always renders the same image and
 * different ids of one user (avatar, smallAvatar, profilePicture) are visibly distinct.
 */
import { createHash } from 'node:crypto';
import type { SpaceEmulatorUser } from './options.js';

/** Escapes text for HTML and XML content and attribute values. */
export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Up to two upper-case initials, from the first and last name (or the username). */
export function initials(user: SpaceEmulatorUser): string {
  const letters = [user.firstName, user.lastName]
    .map((part) => [...part.trim()][0] ?? '')
    .join('');
  return (letters || [...user.username][0] || '?').toUpperCase();
}

/** A stable, readable background colour for `seed` (white text stays legible at 45 % lightness). */
export function colourFor(seed: string): string {
  const hue = createHash('sha256').update(seed).digest().readUInt16BE(0) % 360;
  return `hsl(${hue}, 55%, 45%)`;
}

/** An SVG avatar: the user's initials on a colour derived from the attachment id. */
export function avatarSvg(user: SpaceEmulatorUser, attachmentID: string): string {
  return [
    '<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128">',
    `<title>${escapeXml(`${user.firstName} ${user.lastName}`)}</title>`,
    `<rect width="128" height="128" rx="24" fill="${colourFor(attachmentID)}"/>`,
    '<text x="64" y="64" dy="0.35em" text-anchor="middle" font-family="system-ui, sans-serif" font-size="52" fill="#fff">',
    escapeXml(initials(user)),
    '</text></svg>',
  ].join('');
}

/** Finds the user that owns an attachment id among the avatar fields. */
export function findAvatarOwner(users: readonly SpaceEmulatorUser[], attachmentID: string): SpaceEmulatorUser | undefined {
  return users.find((u) => [u.avatar, u.smallAvatar, u.profilePicture].includes(attachmentID));
}
