/** Error pages (404, 403, 500...) in the app's frame. */
import { html } from './html';
import { layout, type PageContext } from './layout';

const TITLES: Record<number, string> = {
  400: 'That request did not look right',
  401: 'Please sign in',
  403: 'Not allowed',
  404: 'Page not found',
  500: 'Something went wrong',
};

export function errorPage(ctx: PageContext, status: number, message: string): string {
  const title = TITLES[status] ?? (status >= 500 ? TITLES[500]! : 'Something went wrong');
  const body = html`
    <section class="error-box">
      <p class="error-code">${status}</p>
      <h1>${title}</h1>
      <p class="lead">${message}</p>
      <p class="hero-actions"><a class="button button-primary" href="/">Back to the start page</a></p>
    </section>`;
  return layout(ctx, { title, nav: 'home', body, bodyClass: 'page-error' });
}
