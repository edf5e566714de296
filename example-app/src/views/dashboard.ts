/** The dashboard: who you are in Space, and your organization. */
import type { SpaceMemberTeam } from 'passport-jetbrains-space';
import type { AppUser } from '../user';
import { html } from './html';
import { avatar, layout, type PageContext } from './layout';

export type OrganizationResult =
  | { ok: true; name: string; slogan: string | null }
  | { ok: false; message: string };

export interface DashboardInput {
  user: AppUser;
  organization: OrganizationResult;
  /** Where sessions live: 'redis' or 'memory'. */
  store: 'redis' | 'memory';
  signedInAt: number | undefined;
  /** The access token's expiry, epoch ms. */
  tokenExpiresAt: number | undefined;
  now: number;
  /** The user's teams in Space (from spaceAuthorize), root first. */
  teams: SpaceMemberTeam[];
}

function time(ms: number | undefined): string {
  return ms === undefined ? '—' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

function expiry(expiresAt: number | undefined, now: number): string {
  if (expiresAt === undefined) return 'has a limited lifetime';
  const s = Math.max(0, Math.round((expiresAt - now) / 1000));
  return s >= 120 ? `expires in about ${Math.round(s / 60)} minutes` : `expires in ${s} seconds`;
}

export function dashboardPage(ctx: PageContext, input: DashboardInput): string {
  const { user, organization } = input;
  const orgName = organization.ok ? organization.name : 'your organization';
  const emails = user.emails.length === 0
    ? html`<p class="muted">Space shared no email address.</p>`
    : html`<ul class="emails">${user.emails.map((e) => html`
        <li>
          <span class="email">${e.value}</span>
          ${e.verified
            ? html`<span class="pill pill-ok" title="Verified in Space"><span aria-hidden="true">✓</span> Verified</span>`
            : html`<span class="pill pill-muted" title="Not verified in Space">Unverified</span>`}
        </li>`)}</ul>`;
  const org = organization.ok
    ? html`<p class="org-name" id="org-name">${organization.name}</p>
           ${organization.slogan ? html`<p class="muted">${organization.slogan}</p>` : ''}`
    : html`<p class="alert">${organization.message}</p>`;

  const body = html`
    <section class="profile-card">
      ${avatar(user, 'lg')}
      <div class="profile-text">
        <p class="eyebrow">Signed in with Space</p>
        <h1 id="display-name">${user.displayName}</h1>
        <p class="username">@${user.username} <span class="dot" aria-hidden="true">·</span> ${orgName}</p>
      </div>
      <a class="button button-quiet profile-action" href="/space-api">Space API &amp; tokens →</a>
    </section>

    <section class="grid">
      <article class="card">
        <h2>Email addresses</h2>
        ${emails}
      </article>
      <article class="card">
        <h2>Organization</h2>
        ${org}
        <p class="meta">Read just now from <code>GET /api/http/organization</code>, with your access token.</p>
      </article>
      <article class="card">
        <h2>Your teams</h2>
        ${input.teams.length === 0
          ? html`<p class="muted">Space lists you in no team.</p>`
          : html`<ul class="teams" id="teams">${input.teams.map((t) => html`<li>${t.path.join(' › ')}${t.lead ? html` <span class="pill pill-ok">Lead</span>` : ''}</li>`)}</ul>`}
        <p class="meta">From <code>GET /api/http/team-directory/memberships</code>, re-read every ten minutes.</p>
      </article>
      <article class="card">
        <h2>Your session</h2>
        <dl class="facts">
          <div><dt>Space member id</dt><dd><code>${user.id}</code></dd></div>
          <div><dt>Signed in</dt><dd>${time(input.signedInAt)}</dd></div>
          <div><dt>Session store</dt><dd>${input.store === 'redis' ? 'Redis' : 'Memory'}</dd></div>
          <div><dt>In your browser</dt><dd>A session cookie</dd></div>
        </dl>
      </article>
    </section>

    <section class="card steps-card">
      <h2>What just happened</h2>
      <ol class="steps">
        <li><strong>You signed in at Space.</strong> Orbit sent you to ${ctx.space.emulated ? 'the Space emulator' : 'your Space'} with a one-time
          <code>state</code> and a PKCE challenge; Space sent you back with a code, which the server exchanged for tokens.</li>
        <li><strong>The tokens stayed on the server.</strong> They are kept in the session store
          (${input.store === 'redis' ? 'Redis, shared by every instance' : 'this process’s memory'}); your browser only holds the session cookie.</li>
        <li><strong>This page called Space as you.</strong> The organization came from Space’s HTTP API, and your picture through
          <code>/avatar/…</code>, which adds your token on the server side.</li>
        <li><strong>Renewal is automatic.</strong> Your access token ${expiry(input.tokenExpiresAt, input.now)}; the first request after that
          renews it before the page is built. <a href="/space-api">Watch it happen</a>.</li>
      </ol>
    </section>`;
  return layout(ctx, { title: 'Dashboard', nav: 'dashboard', body, bodyClass: 'page-dashboard' });
}
