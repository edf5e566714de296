import type { Request } from 'express';
import type { Session } from './session';

/**
 * What the library changes in Passport's login (`req.logIn`, through session-state.ts's
 * `carryThroughLogIn`): express-session's `regenerate` without the store's `destroy` for a
 * session that was never stored, a hook once the new session exists, and express-session's
 * second, unchanged save skipped.
 */

/**
 * True when this request's cookies carry the session id (express-session's cookie is
 * `s:<id>.<signature>`, URL-encoded): only then can the store hold a session under it. An id
 * express-session made in this request (no cookie, or one the store did not know) was never
 * stored.
 */
export function sentByBrowser(req: Request, id: string): boolean {
  const header = req.headers.cookie;
  if (!id || typeof header !== 'string') return false;
  return header.includes(id) || header.includes(encodeURIComponent(id));
}

type Regenerate = (cb: (err?: unknown) => void) => unknown;

/**
 * For Passport's next `regenerate` of this session: `onNewSession` runs as soon as the new
 * session exists; a session that was never stored (`unstored`) is replaced without the store's
 * `destroy`, which is all express-session's `regenerate` adds to making a new session.
 */
export function hookRegenerate(req: Request, session: Session, unstored: boolean, onNewSession: (() => void) | undefined): void {
  const regenerate = session.regenerate as Regenerate | undefined;
  const store = (req as unknown as { sessionStore?: { generate?: (r: Request) => void } }).sessionStore;
  if (typeof regenerate !== 'function') return;
  // Not enumerable: Passport's keepSessionInfo copies enumerable keys only.
  Object.defineProperty(session, 'regenerate', {
    configurable: true,
    enumerable: false,
    writable: true,
    value: function regenerateOnce(this: Session, cb: (err?: unknown) => void) {
      delete (this as Record<string, unknown>).regenerate;
      const made = (err?: unknown): void => {
        if (!err) onNewSession?.();
        cb(err);
      };
      if (unstored && typeof store?.generate === 'function') {
        store.generate(req);
        return made();
      }
      return regenerate.call(this, made);
    },
  });
}

/**
 * Passport has just stored the new session. express-session would store it again at the end
 * of the request (after a regenerate it cannot tell that it was saved): that second write is
 * skipped when the session is still exactly what was stored. Any change (a `returnTo` taken,
 * a flash message, `rolling` cookies) still writes.
 */
export function skipUnchangedSave(session: Session | undefined): void {
  const save = session?.save;
  if (!session || typeof save !== 'function') return;
  const stored = JSON.stringify(session);
  Object.defineProperty(session, 'save', {
    configurable: true,
    enumerable: false,
    writable: true,
    value: function saveIfChanged(this: Session, cb?: (err?: unknown) => void) {
      // Once: a later save in this request (or the next one) writes as usual.
      Object.defineProperty(this, 'save', { configurable: true, enumerable: false, writable: true, value: save });
      if (JSON.stringify(this) === stored) {
        if (cb) process.nextTick(cb);
        return this;
      }
      return save.call(this, cb ?? (() => undefined));
    },
  });
}

/** A session that holds nothing yet (no user, no data): made for this request only. */
export function isBlankSession(session: Session | undefined): boolean {
  return !!session && Object.keys(session).every((k) => k === 'cookie');
}
