import { html } from '../html.js';
import type { Role, User } from '../model.js';
import { pageHead, tableHead, type PageContext } from './components.js';
import { layout } from './layout.js';

const MAY: Record<Role, string> = {
  viewer: 'Reads listings, contracts, history, plans and audit',
  operator: 'Also sends metering information',
  admin: 'Also sees this page',
};

/** Users and their roles (admins only; hashes are never shown). */
export function usersPage(ctx: PageContext, users: readonly User[]): string {
  const body = html`${pageHead(
      'Users',
      html`Configured in the users file; add one with
        <code>npm run meterstream -- users add --help</code>. Changes apply when the console
        restarts.`,
    )}
    <div class="card table-wrap">
      <table class="data" id="users">
        ${tableHead(['Username', 'Role', 'May'])}
        <tbody>
          ${[...users]
            .sort((a, b) => a.username.localeCompare(b.username))
            .map(
              (u) =>
                html`<tr>
                  <th scope="row" class="strong">${u.username}</th>
                  <td><span class="role role-${u.role}">${u.role}</span></td>
                  <td>${MAY[u.role]}</td>
                </tr>`,
            )}
        </tbody>
      </table>
    </div>`;
  return layout(ctx, 'users', 'Users', body);
}
