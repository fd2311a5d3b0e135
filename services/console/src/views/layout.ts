import { html, type SafeHtml } from '../html.js';
import type { PageContext } from './components.js';

/** The section of the sidebar a page belongs to. */
export type Nav = 'listings' | 'history' | 'plans' | 'audit' | 'users';

const NAV: { id: Nav; href: string; label: string; icon: string }[] = [
  { id: 'listings', href: '/listings', label: 'Product listings', icon: '▦' },
  { id: 'history', href: '/history', label: 'Metering history', icon: '≣' },
  { id: 'plans', href: '/plans', label: 'Plans', icon: '◇' },
  { id: 'audit', href: '/audit', label: 'Audit', icon: '✓' },
  { id: 'users', href: '/users', label: 'Users', icon: '☺' },
];

/** A whole HTML document: the common `<head>` (title, stylesheet, `extraHead`) and `body`. */
export function documentPage(
  title: string,
  extraHead: SafeHtml | '',
  bodyClass: string | undefined,
  body: SafeHtml,
): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        ${extraHead}
        <title>${title} · Meterstream</title>
        <link rel="stylesheet" href="/static/app.css" />
      </head>
      <body${bodyClass ? html` class="${bodyClass}"` : ''}>
        ${body}
      </body>
    </html>`.text;
}

/** The product's name and mark. */
export function brand(className = 'brand'): SafeHtml {
  return html`<div class="${className}">
    <span class="brand-mark" aria-hidden="true">◢</span> Meterstream
  </div>`;
}

function sidebar(ctx: PageContext, active: Nav): SafeHtml {
  return html`<aside class="sidebar">
    ${brand()}
    <nav aria-label="Main">
      <ul>
        ${NAV.filter((n) => n.id !== 'users' || ctx.role === 'admin').map(
          (n) =>
            html`<li>
              <a
                href="${n.href}"
                ${n.id === active ? html` aria-current="page" class="active"` : ''}
                ><span class="nav-icon" aria-hidden="true">${n.icon}</span>${n.label}</a
              >
            </li>`,
        )}
      </ul>
    </nav>
    <div class="sidebar-foot">
      <div class="who">
        <span class="who-name">${ctx.username}</span
        ><span class="role role-${ctx.role}">${ctx.role}</span>
      </div>
      <form method="post" action="/logout">
        <input type="hidden" name="_csrf" value="${ctx.csrfToken}" />
        <button type="submit" class="link-button">Sign out</button>
      </form>
    </div>
  </aside>`;
}

/** The page shell: skip link, left sidebar, main content. */
export function layout(ctx: PageContext, active: Nav, title: string, body: SafeHtml): string {
  return documentPage(
    title,
    html`<meta name="csrf-token" content="${ctx.csrfToken}" />
      <script src="/static/app.js" defer></script>`,
    undefined,
    html`<a class="skip-link" href="#main">Skip to content</a>
      <div class="shell">
        ${sidebar(ctx, active)}
        <main id="main" tabindex="-1">${body}</main>
      </div>`,
  );
}
