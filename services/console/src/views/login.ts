import { html } from '../html.js';
import { brand, documentPage } from './layout.js';

/** The sign-in page. */
export function loginPage(csrfToken: string, error?: string, username = ''): string {
  return documentPage(
    'Sign in',
    '',
    'login-body',
    html`<main class="login-card">
      ${brand('brand brand-dark')}
      <h1>Sign in to the seller console</h1>
      ${error ? html`<p class="alert alert-error" role="alert" id="login-error">${error}</p>` : ''}
      <form method="post" action="/login" class="stack">
        <input type="hidden" name="_csrf" value="${csrfToken}" />
        <label for="username">Username</label>
        <input
          id="username"
          name="username"
          autocomplete="username"
          required
          value="${username}"
          ${error ? html`aria-describedby="login-error"` : ''}
          autofocus
        />
        <label for="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          autocomplete="current-password"
          required
        />
        <button type="submit" class="primary">Sign in</button>
      </form>
    </main>`,
  );
}
