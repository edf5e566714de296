import type { Request, Response } from 'express';
import { wantsJSON } from './request';
import { safeReturnTo } from './return-to';
import { countUnavailable } from '../telemetry';

export function escapeHTML(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface ErrorAnswer {
  headers?: Record<string, string>;
  /** The page's heading; the status code when absent. */
  title?: string;
  /** A link under the message, e.g. to sign in again. */
  link?: { href: string; text: string };
}

/**
 * A short error answer: JSON `{ error, error_description }` for API requests, a tiny page
 * otherwise. No inline styles or scripts, so it renders under the app's strictest CSP.
 */
export function sendError(req: Request, res: Response, status: number, error: string, description: string, answer: ErrorAnswer = {}): void {
  res.status(status);
  res.set('Cache-Control', 'no-store');
  for (const [name, value] of Object.entries(answer.headers ?? {})) res.set(name, value);
  if (wantsJSON(req)) {
    res.json({ error, error_description: description });
    return;
  }
  const title = escapeHTML(answer.title ?? String(status));
  const link = answer.link ? `\n<p><a href="${escapeHTML(answer.link.href)}">${escapeHTML(answer.link.text)}</a></p>` : '';
  res.type('html').send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"></head>
<body><h1>${title}</h1><p>${escapeHTML(description)}</p>${link}</body></html>`);
}

/**
 * A sign-in that has ended (refresh token dead, grant revoked): pages are sent to sign in
 * again and come back to where they were; API requests get 401 JSON.
 */
export function answerSignedOut(req: Request, res: Response, signInURL: string): void {
  if (wantsJSON(req)) {
    sendError(req, res, 401, 'unauthenticated', 'Your Space sign-in has ended; sign in again',
      { headers: { 'WWW-Authenticate': 'Bearer realm="Space", error="invalid_token"' } });
    return;
  }
  const returnTo = safeReturnTo(req.originalUrl);
  res.set('Cache-Control', 'no-store');
  res.redirect(302, returnTo ? `${signInURL}?returnTo=${encodeURIComponent(returnTo)}` : signInURL);
}

/**
 * 401 for an API request nobody signed in for: JSON, never a redirect (a fetch() that
 * follows one ends on Space's HTML login page), with a hint of how to authenticate.
 */
export function answerUnauthenticated(res: Response, signInPath: string): void {
  res.status(401);
  res.set('WWW-Authenticate', `Bearer realm="Space", error="unauthenticated", sign_in="${signInPath}"`);
  res.set('Cache-Control', 'no-store');
  res.json({ error: 'unauthenticated', error_description: 'Sign in with Space first', sign_in: signInPath });
}

/**
 * A failed sign-in in gate mode: a short page with a link to try again (JSON for API
 * requests). Only our own fixed message is shown, never text from the callback URL.
 */
export function answerSignInFailed(req: Request, res: Response, status: number, message: string, signInPath: string): void {
  sendError(req, res, status, 'sign_in_failed', message, {
    headers: { 'Referrer-Policy': 'no-referrer' },
    title: 'Sign-in could not be completed',
    link: { href: signInPath, text: 'Sign in with Space' },
  });
}

/** 503 with `Retry-After`: Redis or Space is away; nothing was lost, try again shortly. */
export function answerUnavailable(req: Request, res: Response, what: 'store' | 'space', retryAfter = 2): void {
  countUnavailable(what === 'store' ? 'redis' : 'space');
  const description = what === 'store'
    ? 'The session store is not answering right now; try again shortly'
    : 'Space is not answering right now; try again shortly';
  sendError(req, res, 503, 'temporarily_unavailable', description, { headers: { 'Retry-After': String(Math.max(1, Math.round(retryAfter))) } });
}
