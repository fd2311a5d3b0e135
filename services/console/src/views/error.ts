import { html } from '../html.js';
import { pageHead, type PageContext } from './components.js';
import { layout } from './layout.js';

const TITLES: Record<number, string> = { 404: 'Not found', 403: 'Not allowed' };

/** A plain error page inside the shell. */
export function errorPage(ctx: PageContext, status: number, message: string): string {
  return layout(
    ctx,
    'listings',
    `Error ${status}`,
    html`${pageHead(TITLES[status] ?? 'Something went wrong')}
      <p class="alert alert-error" role="alert">${message}</p>
      <p><a href="/listings">Back to product listings</a></p>`,
  );
}
