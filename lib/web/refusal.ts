import type { Request } from 'express';

/**
 * Why the library refused a request's sign-in: its own fixed message (never text from the
 * callback URL) and status. Passport's `failWithError` passes an `AuthenticationError` on to the
 * error handlers that says only "Forbidden"; spaceErrorHandler answers it with this instead.
 */
const refusals = new WeakMap<Request, { status: number; message: string }>();

/** Remembers why this request's sign-in was refused. */
export function noteSignInRefusal(req: Request, status: number, message: unknown): void {
  // A verify callback's `done(null, false, info)` may give no message: say who refused.
  refusals.set(req, { status, message: typeof message === 'string' && message !== '' ? message : 'The app refused this sign-in' });
}

/** Why this request's sign-in was refused, if the library refused it. */
export function signInRefusalOf(req: Request): { status: number; message: string } | undefined {
  return refusals.get(req);
}
