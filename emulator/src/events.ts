/**
 * Requests the emulated Space sends to an application when something ends its members' access:
 * the application uninstalled, a member archived, suspended or gone from the organization. Each is
 * sent with `sendToApp` (signed as Space signs it). The shapes follow Space's own types: see
 * docs/space-api.md ("Requests that end sign-ins") for which parts are confirmed and which inferred.
 *
 * Sending an event tells the app; it does not change the member in the emulator (their profile and
 * tokens stay as they are), so a test sees exactly what the app does with the news.
 */
import type { EmulatorState } from './context.js';
import type { SpaceEmulatorAppAnswer, SpaceEmulatorDoors, SpaceEmulatorSendOptions } from './doors.js';
import { findUser, type SpaceEmulatorUser } from './options.js';

/** What happened, as `sendEvent` tells the app. */
export type SpaceEmulatorEventKind = 'member.archived' | 'member.suspended' | 'member.left' | 'app.uninstalled';

/** Options of `sendEvent`: who it is about, and how it is sent (as `sendToApp`). */
export interface SpaceEmulatorEventOptions extends SpaceEmulatorSendOptions {
  /** The member (username or id); required for the `member.*` kinds. */
  member?: string;
}

/** The part of `SpaceEmulator` defined here. */
export interface SpaceEmulatorEvents {
  /** The payload `sendEvent` would send (to look at, or to send yourself with `sendToApp`). */
  eventPayload(kind: SpaceEmulatorEventKind, options?: SpaceEmulatorEventOptions): Record<string, unknown>;
  /**
   * POSTs the event to the app's endpoint, signed as `sendToApp` signs (public key by default):
   * `app.uninstalled` is an `ApplicationUninstalledPayload`; `member.archived` and
   * `member.suspended` a `WebhookRequestPayload` carrying a `ProfileEvent` whose member has
   * `archived` / `suspended` true; `member.left` one carrying a `ProfileOrganizationEvent` with
   * `leftOrganization` true.
   */
  sendEvent(url: string, kind: SpaceEmulatorEventKind, options?: SpaceEmulatorEventOptions): Promise<SpaceEmulatorAppAnswer>;
}

const KINDS: readonly SpaceEmulatorEventKind[] = ['member.archived', 'member.suspended', 'member.left', 'app.uninstalled'];

/** The methods above, bound to one emulator's state and its `sendToApp`. */
export function eventsAPI(state: EmulatorState, doors: Pick<SpaceEmulatorDoors, 'sendToApp'>): SpaceEmulatorEvents {
  const firstClient = (): string => state.clients.keys().next().value ?? '';

  function memberOf(kind: SpaceEmulatorEventKind, options: SpaceEmulatorEventOptions): SpaceEmulatorUser {
    const user = typeof options.member === 'string' ? findUser(state.users, options.member) : undefined;
    if (!user) throw new TypeError(`sendEvent: "${kind}" needs { member }: the username or id of a member, got ${JSON.stringify(options.member)}`);
    return user;
  }

  function eventPayload(kind: SpaceEmulatorEventKind, options: SpaceEmulatorEventOptions = {}): Record<string, unknown> {
    if (!KINDS.includes(kind)) throw new TypeError(`sendEvent: kind must be one of ${KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
    const clientId = options.clientId ?? firstClient();
    if (!state.clients.has(clientId)) throw new TypeError(`sendEvent: no application with client id "${clientId}"`);
    if (kind === 'app.uninstalled') return { className: 'ApplicationUninstalledPayload', clientId, serverUrl: state.url };
    const user = memberOf(kind, options);
    const now = state.now();
    const member = {
      id: user.id, username: user.username, name: { firstName: user.firstName, lastName: user.lastName },
      archived: kind === 'member.archived', suspended: kind === 'member.suspended', notAMember: kind === 'member.left',
    };
    const meta = { principal: { name: 'Space administrator' }, timestamp: { iso: new Date(now).toISOString(), timestamp: now }, method: kind === 'member.left' ? 'Left' : 'Updated' };
    const event = kind === 'member.left'
      ? { className: 'ProfileOrganizationEvent', meta, member, joinedOrganization: false, leftOrganization: true }
      : { className: 'ProfileEvent', meta, member };
    return { className: 'WebhookRequestPayload', clientId, serverUrl: state.url, orgId: state.options.orgDomain, payload: event };
  }

  return {
    eventPayload,
    async sendEvent(url, kind, options = {}) {
      return doors.sendToApp(url, eventPayload(kind, options), options);
    },
  };
}
