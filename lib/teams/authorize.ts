import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { spaceApi } from '../refresh';
import { runtimeOf, type SpaceRuntime } from '../runtime';
import { fn, isRecord, number, oneOf, onlyKnown, SpaceApiError } from '../core';
import { fingerprint } from '../store';
import { fetchMember, scopeHasMemberships, type SpaceGet, type SpaceMember } from './rules';
import { MemberFactsUnavailable, MemberStore } from './membership-store';
import { answerUnauthenticated, answerUnavailable, escapeHTML, isNavigation, requestPath, safeReturnTo, sendError, wantsJSON } from '../web';
import { sessionOf } from '../session';
import { addScopeToUnstarted } from '../config';
import type { SpaceStrategy } from '../strategy';
import { describeAgent } from '../members';
import { audit, auditing, memberOf, traced } from '../telemetry';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The user's teams and roles in Space, set by spaceAuthorize when it admits the request. */
      spaceMember?: SpaceMember;
    }
  }
}

/**
 * Options of {@link spaceAuthorize}. List one or more rules. With `require: 'any'` (the
 * default) a request is admitted when AT LEAST ONE listed rule matches; with `require: 'all'`,
 * only when EVERY listed rule matches. Inside one rule, any entry of its list is enough:
 * `teams: ['Platform', 'Security']` matches a member of either. Rules you leave out play no part.
 */
export interface SpaceAuthorizeOptions {
  /** The SpaceStrategy; default the one spaceTokenRefresh bound to the request. */
  strategy?: SpaceStrategy;
  /**
   * Team ids or names (exact, case-sensitive). A member of a sub-team is in every team above it:
   * someone in Platform › Storage matches `'Platform'`.
   */
  teams?: string[];
  /** Role ids or names (exact): matches when the user holds that role in any team. */
  roles?: string[];
  /**
   * Who, by name: `{ id: '2asfen24Jx6u' }` matches that Space profile id exactly (case-sensitive),
   * `{ username: 'john.doe' }` that username case-insensitively; neither is ever compared with the
   * other field. A plain string is either (the profile id exactly, or the username
   * case-insensitively): prefer the explicit forms, since a plain string meant as an id also
   * admits a member whose username happens to spell it.
   */
  users?: SpaceAuthorizeUser[];
  /** Domains (`'acme.com'`, exact, case-insensitive) of the user's verified email addresses. */
  emailDomains?: string[];
  /** Your own rule: gets the facts (`req.spaceMember`'s shape) and the request. */
  allow?: (member: SpaceMember, req: Request) => boolean | Promise<boolean>;
  /** `'any'` (default): one matching rule admits. `'all'`: every listed rule must match. */
  require?: 'any' | 'all';
  /** Facts younger than this are used without asking Space, ms. Default 600000 (10 minutes). */
  membershipTTL?: number;
  /** While Space cannot be asked, facts up to this old are still used; then 503, ms. Default 3600000. */
  membershipMaxStale?: number;
  /** Hidden fields for the sign-out form of the 403 page, e.g. `(req) => ({ _csrf: csrfToken(req) })`. */
  signOutFields?: (req: Request) => Record<string, string>;
}

/** One entry of {@link SpaceAuthorizeOptions.users}: a profile id, a username, or a plain string meaning either. */
export type SpaceAuthorizeUser = string | { id: string } | { username: string };

const OWNER = 'spaceAuthorize';
const KNOWN = ['strategy', 'teams', 'roles', 'users', 'emailDomains', 'allow', 'require', 'membershipTTL', 'membershipMaxStale', 'signOutFields'];
const MEMBERSHIPS_SCOPE = 'global:Profile.Memberships.View';
const SCOPE_HINT = 'add "global:Profile.Memberships.View" to the SpaceStrategy\'s "scope" (e.g. scope: ["global:Profile.View", "global:Profile.Memberships.View"])';

type Rule = (member: SpaceMember, req: Request) => boolean | Promise<boolean>;

function names(name: string, value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length === 0 || value.some((v) => typeof v !== 'string' || v.trim() === '')) {
    throw new TypeError(`${OWNER} option "${name}" must be a non-empty array of non-empty strings, e.g. ["Platform"]`);
  }
  return value.map((v: string) => v.trim());
}

const stores = new WeakMap<SpaceRuntime, MemberStore>();
function storeOf(runtime: SpaceRuntime): MemberStore {
  let store = stores.get(runtime);
  if (!store) stores.set(runtime, (store = new MemberStore(runtime.kv, runtime.keys, runtime.settings.encryptionKeys, runtime.settings.lockTTL)));
  return store;
}

const USERS_HINT = `${OWNER} option "users" must be a non-empty array of profile ids ({ id: "2asfen24Jx6u" }), usernames ({ username: "john.doe" }) or non-empty strings`;

/**
 * The `users` rule's two sets, kept apart: ids are compared exactly with the profile id, usernames
 * case-insensitively with the username, and never one with the other. A plain string goes into
 * both, as the option always read it (an id exactly, or a username in any case).
 */
function usersOf(value: unknown): { ids: Set<string>; usernames: Set<string> } | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length === 0) throw new TypeError(USERS_HINT);
  const ids = new Set<string>();
  const usernames = new Set<string>();
  const text = (v: unknown): string => {
    if (typeof v !== 'string' || v.trim() === '') throw new TypeError(USERS_HINT);
    return v.trim();
  };
  for (const entry of value as unknown[]) {
    if (typeof entry === 'string') {
      ids.add(text(entry));
      usernames.add(text(entry).toLowerCase());
    } else if (isRecord(entry) && Object.keys(entry).length === 1 && 'id' in entry) {
      ids.add(text(entry.id));
    } else if (isRecord(entry) && Object.keys(entry).length === 1 && 'username' in entry) {
      usernames.add(text(entry.username).toLowerCase());
    } else {
      throw new TypeError(USERS_HINT);
    }
  }
  return { ids, usernames };
}

/** The rules of one spaceAuthorize, checked at construction. */
function rulesOf(o: SpaceAuthorizeOptions): Rule[] {
  const rules: Rule[] = [];
  const teams = names('teams', o.teams);
  const roles = names('roles', o.roles);
  const users = usersOf(o.users);
  const domains = names('emailDomains', o.emailDomains)?.map((d) => d.replace(/^@/, '').toLowerCase());
  const allow = fn<Rule>(OWNER, 'allow', o.allow);
  if (teams) rules.push((m) => m.teams.some((t) => teams.some((x) => t.pathIds.includes(x) || t.path.includes(x))));
  if (roles) rules.push((m) => m.roles.some((r) => roles.includes(r.id) || roles.includes(r.name)));
  if (users) rules.push((m) => (m.id !== '' && users.ids.has(m.id)) || (m.username !== '' && users.usernames.has(m.username.toLowerCase())));
  if (domains) rules.push((m) => m.emails.some((e) => domains.some((d) => e.endsWith(`@${d}`))));
  if (allow) rules.push(allow);
  if (rules.length === 0) throw new TypeError(`${OWNER} needs at least one rule: "teams", "roles", "users", "emailDomains" or "allow"`);
  return rules;
}

/** Who is asking: a session's sign-in (by its grant), a user's bearer token, or nobody we can ask Space about. */
type Who = { kind: 'session'; tag: string } | { kind: 'bearer'; tag: string; token: string } | { kind: 'application' } | { kind: 'none' };

function whoIs(req: Request, runtime: SpaceRuntime): Who {
  const user = (req as { user?: { principal?: unknown } }).user;
  const stored = runtime.session.grantOf(sessionOf(req));
  if (stored && req.spaceTokens) return { kind: 'session', tag: stored };
  if (user && user.principal === 'application') return { kind: 'application' };
  const token = /^Bearer\s+([^\s]+)$/i.exec(req.get('authorization') ?? '')?.[1];
  if (user && user.principal === 'user' && token) return { kind: 'bearer', tag: `b:${fingerprint(token, 32)}`, token };
  if (stored) throw new TypeError(`${OWNER} needs spaceTokenRefresh() mounted before it, so the user's token is valid`);
  return { kind: 'none' };
}

/**
 * Admits a request by the user's teams and roles in Space (or their username, email domain,
 * or your own rule); see {@link SpaceAuthorizeOptions} for how rules combine. Mount it after
 * spaceTokenRefresh (or after the 'space-bearer' strategy for API tokens):
 *
 * ```ts
 * app.use('/admin', spaceAuthorize({ teams: ['Platform'], roles: ['Team Lead'] }));
 * ```
 *
 * - The facts come from Space (`team-directory/memberships?profiles=me`, every page, with the
 *   user's token, plus the profile's username and emails) on the first request after sign-in,
 *   then again when older than `membershipTTL`: at most once per sign-in per TTL across all
 *   app processes (cached in Redis, sealed when encryption keys are set). So a change in Space
 *   takes effect within the TTL without a new sign-in.
 * - Refused: 403, a short page (who is signed in, a sign-out button) or `{"error":"forbidden"}`.
 * - Not signed in: a page navigation goes to sign in and comes back; other requests get 401 JSON.
 * - Space away: facts up to `membershipMaxStale` old are used, then 503 with `Retry-After`.
 *   Missing facts never admit.
 * - The token needs the scope `global:Profile.Memberships.View`. Created before the app serves
 *   (the usual place, at start-up), spaceAuthorize adds it to the strategy's scope itself: to the
 *   `strategy` given, or else to every SpaceStrategy of the process that has not served a request
 *   yet. Created later, it cannot, and a strategy without it is an error naming the scope to add.
 */
export function spaceAuthorize(options: SpaceAuthorizeOptions): RequestHandler {
  if (!options || typeof options !== 'object') throw new TypeError(`${OWNER} requires options, e.g. { teams: ['Platform'] }`);
  onlyKnown(OWNER, options, KNOWN);
  const fixed = options.strategy;
  if (fixed !== undefined && (typeof (fixed as Partial<SpaceStrategy>).refresh !== 'function' || !(fixed as Partial<SpaceStrategy>).shared)) {
    throw new TypeError(`${OWNER} option "strategy" must be the SpaceStrategy instance`);
  }
  // Created at start-up, it adds the scope it needs to the strategy's own (or, without a strategy
  // option, to every strategy that has not served yet); once a strategy serves, its scope is fixed.
  if (fixed && !scopeHasMemberships(fixed.settings.scope) && !(typeof fixed.addScope === 'function' && fixed.addScope(MEMBERSHIPS_SCOPE))) {
    throw new TypeError(`${OWNER} reads team memberships from Space, and the strategy has served requests already, so its scope is fixed: ${SCOPE_HINT}, or create spaceAuthorize before the app serves`);
  }
  if (!fixed) addScopeToUnstarted(MEMBERSHIPS_SCOPE);
  const rules = rulesOf(options);
  const all = oneOf(OWNER, 'require', options.require, ['any', 'all'] as const) === 'all';
  const ttl = number(OWNER, 'membershipTTL', options.membershipTTL, { min: 1000, integer: true }) ?? 600_000;
  const maxStale = number(OWNER, 'membershipMaxStale', options.membershipMaxStale, { min: 1000, integer: true }) ?? Math.max(3_600_000, ttl);
  if (maxStale < ttl) throw new TypeError(`${OWNER} option "membershipMaxStale" (${maxStale} ms) must be at least "membershipTTL" (${ttl} ms)`);
  const signOutFields = fn<(req: Request) => Record<string, string>>(OWNER, 'signOutFields', options.signOutFields);
  const scopeChecked = new WeakSet<SpaceRuntime>();

  const admits = async (member: SpaceMember, req: Request): Promise<boolean> => {
    for (const rule of rules) {
      const matched = (await rule(member, req)) === true;
      if (matched && !all) return true;
      if (!matched && all) return false;
    }
    return all;
  };

  const refuse = (req: Request, res: Response, runtime: SpaceRuntime, member: SpaceMember | undefined, why: string, reason: string): void => {
    if (auditing(runtime)) {
      audit(runtime, { type: 'team_refused', outcome: 'failure', member: memberOf(member ?? req.user), browser: describeAgent(req.get('user-agent')), reason, path: requestPath(req) });
    }
    if (wantsJSON(req)) return sendError(req, res, 403, 'forbidden', why);
    const fields = Object.entries(signOutFields?.(req) ?? {})
      .map(([name, value]) => `<input type="hidden" name="${escapeHTML(name)}" value="${escapeHTML(String(value))}">`).join('');
    const who = member?.username ? `<p>You are signed in as <strong>${escapeHTML(member.username)}</strong>.</p>` : '';
    res.status(403).set('Cache-Control', 'no-store').type('html').send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Access denied</title>
<meta name="viewport" content="width=device-width,initial-scale=1"></head>
<body><h1>Access denied</h1><p>${escapeHTML(why)}</p>${who}
<form method="post" action="${escapeHTML(runtime.settings.signOutPath)}">${fields}<button type="submit">Sign out</button></form></body></html>`);
  };

  return function spaceAuthorizeMiddleware(req: Request, res: Response, next: NextFunction): void {
    const runtime = fixed?.runtime ?? runtimeOf(req);
    if (!runtime) return next(new TypeError(`${OWNER} needs spaceTokenRefresh() mounted before it, or a "strategy" option`));
    if (!fixed && !scopeChecked.has(runtime)) {
      if (!scopeHasMemberships(runtime.host.options.scope)) return next(new TypeError(`${OWNER} reads team memberships from Space: ${SCOPE_HINT}`));
      scopeChecked.add(runtime);
    }
    let who: Who;
    try {
      who = whoIs(req, runtime);
    } catch (err) {
      return next(err);
    }
    if (who.kind === 'none') {
      const signInPath = runtime.settings.signInPath;
      if (!isNavigation(req)) return answerUnauthenticated(res, signInPath);
      const returnTo = safeReturnTo(req.originalUrl);
      res.set('Cache-Control', 'no-store');
      return res.redirect(302, returnTo ? `${signInPath}?returnTo=${encodeURIComponent(returnTo)}` : signInPath);
    }
    if (who.kind === 'application') return refuse(req, res, runtime, undefined, 'An application token has no team memberships', 'application_token');
    const get: SpaceGet = who.kind === 'bearer'
      ? async (path, query) => (await runtime.host.client.api(who.token, 'GET', path, { query })).json
      : (path, query) => spaceApi(req).get(path, { query });
    // The span covers deciding; what runs after next() is not part of it.
    traced('authorize', async (op) => {
      const member = await storeOf(runtime).get(who.tag, () => fetchMember(get), { ttl, maxStale });
      const admitted = await admits(member, req);
      op.set('space.outcome', admitted ? 'admitted' : 'refused');
      return { member, admitted };
    })
      .then(({ member, admitted }) => {
        if (!admitted) return refuse(req, res, runtime, member, 'Your Space teams and roles do not give you access to this page.', 'rules');
        req.spaceMember = member;
        next();
      })
      .catch((err: unknown) => {
        if (err instanceof MemberFactsUnavailable) return answerUnavailable(req, res, 'space', err.retryAfter);
        if (err instanceof SpaceApiError && err.status === 403) {
          return refuse(req, res, runtime, undefined, 'The Space token may not read team memberships (scope global:Profile.Memberships.View).', 'no_memberships_scope');
        }
        next(err);
      });
  };
}
