/**
 * Security headers on every response (helmet), and CSRF protection for the app's one form,
 * sign-out (csrf-sync: a synchronizer token kept in the session). Both are maintained
 * libraries: an example app should not carry hand-written security code to copy.
 */
import type { Request, RequestHandler } from 'express';
import helmet from 'helmet';
import { csrfSync } from 'csrf-sync';

/**
 * Pages load scripts, styles and images from this origin only (no inline script, no inline
 * style), post forms only to this origin, and cannot be framed.
 */
export const CONTENT_SECURITY_POLICY_DIRECTIVES = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'"],
  connectSrc: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
};

const headers = helmet({
  contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY_DIRECTIVES },
  xFrameOptions: { action: 'deny' },
  // The sign-in callback URL carries a code: never let it travel in a Referer.
  referrerPolicy: { policy: 'no-referrer' },
  crossOriginOpenerPolicy: { policy: 'same-origin' },
  crossOriginResourcePolicy: { policy: 'same-origin' },
});

/**
 * helmet's headers, plus what helmet does not set: a Permissions-Policy, and no caching
 * unless a route says otherwise (static files, avatars).
 */
export function securityHeaders(): RequestHandler {
  return function securityHeadersMiddleware(req, res, next) {
    res.set({
      'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), payment=()',
      'Cache-Control': 'no-store',
    });
    headers(req, res, next);
  };
}

const csrf = csrfSync({
  // The sign-out form posts the token in its `_csrf` field.
  getTokenFromRequest: (req) => {
    const given = (req.body as Record<string, unknown> | undefined)?._csrf;
    return typeof given === 'string' ? given : undefined;
  },
  size: 32,
  errorConfig: { statusCode: 403, message: 'The form has expired or did not come from this app. Reload the page and try again.' },
});

/**
 * The session's CSRF token, created on first use. Passport starts a new session at sign-in,
 * so every sign-in gets a new token.
 */
export function csrfToken(req: Request): string {
  if (!req.session) throw new Error('csrfToken needs express-session');
  return csrf.generateToken(req);
}

/**
 * Refuses (403) a form post whose `_csrf` field does not match the session's token. Mount
 * after a body parser (`express.urlencoded`).
 */
export const requireCsrf: RequestHandler = csrf.csrfSynchronisedProtection;
