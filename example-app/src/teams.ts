/**
 * Access by Space team, and "sign out everywhere": the Platform admin page (members of
 * Platform and of its sub-teams only), the user's teams for the dashboard, and the sessions
 * page with its CSRF-checked "Sign out everywhere" form.
 */
import express, { type Express, type Request, type RequestHandler } from 'express';
import { spaceAuthorize, spaceSessions } from 'passport-jetbrains-space';
import { csrfToken, requireCsrf } from './security';
import { currentUser } from './user';
import type { PageContext } from './views/layout';
import { adminPage } from './views/admin';
import { sessionsPage } from './views/sessions';

/** The team whose members (sub-teams included) may open /admin. */
export const ADMIN_TEAM = 'Platform';

/** The 403 page's sign-out button posts to the CSRF-checked sign-out route: give it the token. */
const signOutFields = (req: Request) => ({ _csrf: csrfToken(req) });

/** Reads the user's teams (cached, see docs/team-rules.md) without restricting anyone. */
export const withTeams: RequestHandler = spaceAuthorize({ allow: () => true, signOutFields });

export function mountTeamPages(app: Express, page: (req: Request) => PageContext): void {
  app.get('/admin', spaceAuthorize({ teams: [ADMIN_TEAM], signOutFields }), (req, res) => {
    res.type('html').send(adminPage(page(req), { team: ADMIN_TEAM, member: req.spaceMember! }));
  });

  app.get('/sessions', async (req, res, next) => {
    try {
      const sessions = await spaceSessions(req).list();
      res.type('html').send(sessionsPage(page(req), { user: currentUser(req)!, sessions, now: Date.now() }));
    } catch (err) {
      next(err);
    }
  });

  // Every session of this user, in every browser and on every instance, this one included.
  app.post('/sessions/end-all', express.urlencoded({ extended: false, limit: '4kb' }), requireCsrf, async (req, res, next) => {
    try {
      await spaceSessions(req).endAll();
      res.redirect(303, '/');
    } catch (err) {
      next(err);
    }
  });
}
