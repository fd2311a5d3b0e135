// The seller console as a browser sees it: sign in with the CSRF cookie and form token, open a page.
import { URLSearchParams } from 'node:url';

/** Signs in and returns the HTML of `page` as a one-element array (an object, to tell it from an error text). */
export async function signInToConsole(base, username, password, page) {
  const jar = new Map();
  const keep = (res) => {
    for (const c of res.headers.getSetCookie()) {
      const [kv] = c.split(';');
      const i = kv.indexOf('=');
      jar.set(kv.slice(0, i), kv.slice(i + 1));
    }
  };
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const form = await fetch(`${base}/login`, { redirect: 'manual' });
  keep(form);
  const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1];
  if (!token) throw new Error('no CSRF token on /login');
  const login = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookie() },
    body: new URLSearchParams({ _csrf: token, username, password }).toString(),
  });
  keep(login);
  if (login.status !== 302 && login.status !== 303)
    throw new Error(`POST /login answered ${login.status}`);
  const res = await fetch(`${base}${page}`, { headers: { cookie: cookie() }, redirect: 'manual' });
  if (!res.ok) throw new Error(`GET ${page} answered ${res.status}`);
  return [await res.text()];
}

/**
 * Signs in as the demo user and opens the contract product's contracts page: whether that worked
 * (or why not) and how many of the run's contract customers it lists.
 */
export async function checkConsole(o, password, conPlan, customers) {
  const page = await signInToConsole(
    `http://127.0.0.1:${o.ports.console}`,
    'demo',
    password,
    `/listings/${encodeURIComponent(conPlan.productCode)}/contracts`,
  ).catch((e) => `failed: ${e.message}`);
  const signedIn = typeof page === 'object';
  const listed = customers.filter(
    (c) => c.kind === 'account' && signedIn && page[0].includes(c.id),
  ).length;
  return { signedIn, listed, error: signedIn ? undefined : page };
}
