/** The landing page: what the app is, and the "Sign in with Space" button. */
import { html, type SafeHtml } from './html';
import { layout, LOGO, type PageContext } from './layout';

export interface LandingInput {
  /** Why the last sign-in did not complete, if it did not. */
  notice?: string;
}

const FEATURES: Array<{ title: string; text: string }> = [
  { title: 'Sign in with Space', text: 'The OAuth 2.0 authorization-code flow with state and PKCE (S256), against your organization’s Space.' },
  { title: 'Tokens stay server-side', text: 'Access and refresh tokens live in the session store (Redis). The browser only holds a signed session cookie.' },
  { title: 'Transparent renewal', text: 'An expiring access token is renewed on the next request, once, even across several app instances.' },
  { title: 'Call Space as the user', text: 'Read the profile and the organization through Space’s HTTP API with the user’s own token.' },
];

export function landingPage(ctx: PageContext, input: LandingInput = {}): string {
  const action: SafeHtml = ctx.user
    ? html`<a class="button button-primary button-large" href="/dashboard">Continue to your dashboard</a>
           <p class="hint">Signed in as <strong>${ctx.user.displayName}</strong>.</p>`
    : html`<a class="button button-space button-large" href="${ctx.signInHref}" id="sign-in">${LOGO}<span>Sign in with Space</span></a>`;
  const emulator = ctx.space.emulated && !ctx.user
    ? html`<p class="callout"><strong>No Space org configured.</strong> Orbit is running a local Space emulator;
        on its sign-in page, pick one of the test users. Set <code>SPACE_URL</code>, <code>SPACE_CLIENT_ID</code> and
        <code>SPACE_CLIENT_SECRET</code> to use your real organization.</p>`
    : '';
  const notice = input.notice ? html`<p class="alert" role="alert">${input.notice}</p>` : '';
  const body = html`
    <section class="hero">
      <p class="eyebrow">Example app · passport-jetbrains-space</p>
      <h1>Your team’s workspace, one sign-in away.</h1>
      <p class="lead">Orbit uses your JetBrains Space account: no new password, your profile and organization ready the moment you arrive.</p>
      ${notice}
      <div class="hero-actions">${action}</div>
      ${emulator}
    </section>
    <section class="features" aria-label="What this example shows">
      ${FEATURES.map((f) => html`<article class="feature"><h2>${f.title}</h2><p>${f.text}</p></article>`)}
    </section>`;
  return layout(ctx, { title: 'Welcome', nav: 'home', body, bodyClass: 'page-landing' });
}
