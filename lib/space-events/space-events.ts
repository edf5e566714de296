import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { isRedisOutage, onlyKnown } from '../core';
import { endAllMembers, endMember, userHash } from '../members';
import { bindShared } from '../runtime';
import type { SpaceStrategy } from '../strategy';
import { DEFAULT_READING, type EventReading, meaningOf } from './classify';

/** Options of {@link spaceEvents}. */
export interface SpaceEventsOptions {
  /** The SpaceStrategy instance the members signed in with. */
  strategy: SpaceStrategy;
  /**
   * Dot path of the member object in a webhook payload. Default `'payload.member'`
   * (`WebhookRequestPayload.payload` is the event; its `member` the profile).
   */
  memberPath?: string;
  /** Fields of the member that end its sign-ins when `true`. Default `['archived', 'suspended', 'accessSuspended', 'notAMember']`. */
  memberFlags?: string[];
  /** Fields of the event (the object holding the member) that end the member's sign-ins when `true`. Default `['leftOrganization']`. */
  eventFlags?: string[];
  /** `className` of the payload Space sends when the application is uninstalled. Default `'ApplicationUninstalledPayload'`. */
  uninstalledClassName?: string;
  /**
   * After ending the sign-ins, pass the request on to the next handler (which answers Space)
   * instead of answering `200 {}` here. `res.locals.spaceEvent` tells what was done either way.
   */
  passOn?: boolean;
}

/** What spaceEvents did, in `res.locals.spaceEvent`. */
export interface SpaceEventOutcome {
  /** `'app_uninstalled'`, or `'member_<flag>'` (`member_archived`, `member_left_organization`, ...). */
  reason: string;
  /** How many sign-ins were ended. */
  ended: number;
}

/** Every option name spaceEvents accepts; any other is a TypeError. */
export const SPACE_EVENTS_OPTION_NAMES = ['strategy', 'memberPath', 'memberFlags', 'eventFlags', 'uninstalledClassName', 'passOn'] as const;

const OWNER = 'spaceEvents';
const MOUNTING_FIX = 'spaceEvents reads the payload verifySpaceRequest accepted: mount verifySpaceRequest({ strategy }) before it on this route.';

function names(value: unknown, name: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) throw new TypeError(`${OWNER} option "${name}" must be a list of field names`);
  return [...value] as string[];
}

function path(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[A-Za-z0-9_$]+(\.[A-Za-z0-9_$]+)*$/.test(value)) throw new TypeError(`${OWNER} option "memberPath" must be a dot path like "payload.member"`);
  return value.split('.');
}

/**
 * Express handler for the requests Space sends that end sign-ins, mounted after verifySpaceRequest
 * on the app's endpoint: when the application is uninstalled, every sign-in in the app ends; when a
 * member is archived, suspended or leaves the organization, that member's sign-ins end, in every
 * browser and process, at once (marked ended in Redis and announced before the answer; refresh
 * tokens revoked at Space, best effort). Each ended sign-in emits `session.ended` with the reason,
 * and each event one `space.event`. Other payloads go on to the next handler untouched.
 *
 * ```ts
 * app.post('/space/endpoint', express.json({ verify: spaceRawBody }), verifySpaceRequest({ strategy }),
 *   spaceEvents({ strategy }), yourHandler);
 * ```
 */
export function spaceEvents(options: SpaceEventsOptions): RequestHandler {
  if (!options || typeof options !== 'object') throw new TypeError(`${OWNER} requires options: { strategy }`);
  onlyKnown(OWNER, options, SPACE_EVENTS_OPTION_NAMES);
  const handle = bindShared(OWNER, { strategy: options.strategy });
  if (options.uninstalledClassName !== undefined && (typeof options.uninstalledClassName !== 'string' || options.uninstalledClassName === '')) {
    throw new TypeError(`${OWNER} option "uninstalledClassName" must be a non-empty string`);
  }
  if (options.passOn !== undefined && typeof options.passOn !== 'boolean') throw new TypeError(`${OWNER} option "passOn" must be a boolean`);
  const reading: EventReading = {
    uninstalledClassName: options.uninstalledClassName ?? DEFAULT_READING.uninstalledClassName,
    memberPath: path(options.memberPath) ?? DEFAULT_READING.memberPath,
    memberFlags: names(options.memberFlags, 'memberFlags') ?? DEFAULT_READING.memberFlags,
    eventFlags: names(options.eventFlags, 'eventFlags') ?? DEFAULT_READING.eventFlags,
  };
  const passOn = options.passOn === true;

  return function spaceEventsMiddleware(req: Request, res: Response, next: NextFunction): void {
    if (req.spacePayload === undefined) {
      res.status(500).set('Cache-Control', 'no-store').json({ error: 'server_misconfigured', error_description: MOUNTING_FIX });
      return;
    }
    const meaning = meaningOf(req.spacePayload, reading);
    const runtime = handle.runtime;
    // Another application's news (one endpoint serving several): not ours to act on.
    if (!meaning || (meaning.clientId !== undefined && meaning.clientId !== runtime.host.options.clientID)) return next();
    const reason = meaning.kind === 'uninstalled' ? 'app_uninstalled' : meaning.reason;
    const ending = meaning.kind === 'uninstalled' ? endAllMembers(runtime, reason) : endMember(runtime, userHash(meaning.memberId), reason);
    ending.then((ended) => {
      runtime.emit({ event: 'space.event', reason, message: `${ended} sign-in(s) ended` });
      res.locals.spaceEvent = { reason, ended } satisfies SpaceEventOutcome;
      if (passOn) return next();
      res.status(200).set('Cache-Control', 'no-store').json({});
    }, (err: unknown) => {
      if (!isRedisOutage(err)) return next(err);
      runtime.emit({ event: 'redis.unavailable', reason: 'space_event', message: err instanceof Error ? err.message : String(err) });
      // Not accepted: Space is told so (whether it sends the request again is not documented).
      res.status(503).set({ 'Retry-After': '5', 'Cache-Control': 'no-store' }).json({ error: 'temporarily_unavailable' });
    });
  };
}
