import { isRecord } from '../core';

/**
 * Reading the requests Space sends for what ends sign-ins (docs/space-api.md, "Requests that end
 * sign-ins" says which shapes are confirmed and which inferred):
 *
 * - `ApplicationUninstalledPayload` `{ className, clientId, serverUrl }`: the application was
 *   removed from the organization; every sign-in ends.
 * - `WebhookRequestPayload` `{ className, clientId, payload: <event> }` whose event names a
 *   `member` (`ProfileOrganizationEvent`, `ProfileEvent`): the member's sign-ins end when a flag
 *   of the event (`leftOrganization`) or of the member (`archived`, `suspended`, `accessSuspended`,
 *   `notAMember`) is `true`. Where the member sits and which flags count are options, as Space's
 *   webhook payloads hold the fields the webhook was configured to send.
 */

/** What a payload means for sign-ins. */
export type SpaceEventMeaning =
  | { kind: 'uninstalled'; clientId: string | undefined }
  | { kind: 'member'; memberId: string; clientId: string | undefined; reason: string };

/** How payloads are read; every field has a default matching Space's payloads. */
export interface EventReading {
  uninstalledClassName: string;
  /** Dot path of the member object, from the payload's root. */
  memberPath: readonly string[];
  /** Flags of the event (the member's parent object) that end the member's sign-ins. */
  eventFlags: readonly string[];
  /** Flags of the member that end its sign-ins. */
  memberFlags: readonly string[];
}

export const DEFAULT_READING: EventReading = Object.freeze({
  uninstalledClassName: 'ApplicationUninstalledPayload',
  memberPath: Object.freeze(['payload', 'member']),
  eventFlags: Object.freeze(['leftOrganization']),
  memberFlags: Object.freeze(['archived', 'suspended', 'accessSuspended', 'notAMember']),
});

/** `archived` -> `member_archived`, `notAMember` -> `member_not_a_member`: the reason in events. */
function reasonOf(flag: string): string {
  const words = flag.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/[^a-z0-9_]/g, '').replace(/^_+/, '').slice(0, 40);
  return `member_${words}`;
}

const clientIdOf = (payload: Record<string, unknown>) => (typeof payload.clientId === 'string' ? payload.clientId : undefined);

/** What `payload` means for sign-ins, or undefined when it ends none. */
export function meaningOf(payload: unknown, reading: EventReading): SpaceEventMeaning | undefined {
  if (!isRecord(payload)) return undefined;
  if (payload.className === reading.uninstalledClassName) {
    return { kind: 'uninstalled', clientId: clientIdOf(payload) };
  }
  let parent: unknown;
  let found: unknown = payload;
  for (const step of reading.memberPath) {
    parent = found;
    found = isRecord(found) ? found[step] : undefined;
  }
  const member = found;
  const event = isRecord(parent) ? parent : {};
  if (!isRecord(member) || typeof member.id !== 'string' || member.id === '') return undefined;
  const flag = reading.eventFlags.find((f) => event[f] === true) ?? reading.memberFlags.find((f) => member[f] === true);
  return flag ? { kind: 'member', memberId: member.id, clientId: clientIdOf(payload), reason: reasonOf(flag) } : undefined;
}
