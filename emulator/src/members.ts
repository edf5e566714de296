/**
 * Who the emulated Space knows: its members and the applications registered in it. The other
 * modules (defaults, the directory, options) take these types from here.
 */

/** A Space member known to the emulator. Becomes a `TD_MemberProfile` (docs/space-api.md#profile). */
export interface SpaceEmulatorUser {
  /** Profile id; also the `sub` of access tokens. */
  id: string;
  username: string;
  firstName: string;
  lastName: string;
  emails?: { email: string; verified?: boolean }[];
  /** Attachment ids, served as SVG images at `/d/<id>`. */
  avatar?: string | null;
  smallAvatar?: string | null;
  profilePicture?: string | null;
  about?: string | null;
}

/** An application registered in the emulated Space. */
export interface SpaceEmulatorClient {
  clientID: string;
  /** Absent: a public client, which authenticates with `client_id` in the body and must use PKCE. */
  clientSecret?: string;
  /** Exact-match list; the string `'*'` means any http(s) URI on localhost or 127.0.0.1. */
  redirectURIs: string[];
  /** The application's name (the `name` claim of its tokens, `applications/me`); default the client id. */
  name?: string;
}

/** Finds a user by id or username. */
export function findUser(users: readonly SpaceEmulatorUser[], idOrUsername: string): SpaceEmulatorUser | undefined {
  return users.find((u) => u.id === idOrUsername) ?? users.find((u) => u.username === idOrUsername);
}
