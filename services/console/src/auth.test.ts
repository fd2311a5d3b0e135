import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import {
  authenticate,
  Csrf,
  decodeSession,
  encodeSession,
  LoginThrottle,
  parseUsers,
} from './auth.js';
import { canSubmit } from './model.js';
import { parseConsoleEnv } from './env.js';

const hash = bcrypt.hashSync('pw-123456789', 4);

describe('users file', () => {
  it('parses users and names every problem', () => {
    const users = parseUsers(
      JSON.stringify({ users: [{ username: 'a', role: 'viewer', passwordHash: hash }] }),
    );
    expect(users).toHaveLength(1);
    expect(() => parseUsers('{')).toThrow(/not valid JSON/);
    expect(() =>
      parseUsers(
        JSON.stringify({
          users: [
            { username: 'a b', role: 'root', passwordHash: 'plain' },
            { username: 'ok', role: 'viewer', passwordHash: hash },
          ],
        }),
      ),
    ).toThrow(/users\.0\.username[\s\S]*users\.0\.role[\s\S]*users\.0\.passwordHash/);
    expect(() =>
      parseUsers(
        JSON.stringify({
          users: [
            { username: 'a', role: 'viewer', passwordHash: hash },
            { username: 'a', role: 'admin', passwordHash: hash },
          ],
        }),
      ),
    ).toThrow(/listed twice/);
  });

  it('authenticates only with the right password', async () => {
    const users = [{ username: 'a', role: 'operator' as const, passwordHash: hash }];
    expect((await authenticate(users, 'a', 'pw-123456789'))?.username).toBe('a');
    expect(await authenticate(users, 'a', 'wrong')).toBeUndefined();
    expect(await authenticate(users, 'nobody', 'pw-123456789')).toBeUndefined();
  });
});

describe('roles', () => {
  it('lets operators and admins submit, not viewers', () => {
    expect(canSubmit('viewer')).toBe(false);
    expect(canSubmit('operator')).toBe(true);
    expect(canSubmit('admin')).toBe(true);
  });
});

describe('sessions and CSRF', () => {
  it('round-trips sessions and rejects expired or malformed ones', () => {
    const s = { username: 'a', role: 'viewer' as const, sid: 'x', exp: 2_000 };
    expect(decodeSession(encodeSession(s), 1_000)).toEqual(s);
    expect(decodeSession(encodeSession(s), 2_000)).toBeUndefined();
    expect(decodeSession(encodeSession({ ...s, role: 'root' as 'viewer' }), 1_000)).toBeUndefined();
    expect(decodeSession('not-base64-json', 1_000)).toBeUndefined();
  });

  it('accepts only the token of the nonce under the same secret', () => {
    const csrf = new Csrf('s'.repeat(32));
    const t = csrf.token('nonce-1');
    expect(csrf.verify('nonce-1', t)).toBe(true);
    expect(csrf.verify('nonce-2', t)).toBe(false);
    expect(new Csrf('t'.repeat(32)).verify('nonce-1', t)).toBe(false);
    expect(csrf.verify(undefined, t)).toBe(false);
    expect(csrf.verify('nonce-1', undefined)).toBe(false);
    expect(csrf.verify('nonce-1', '')).toBe(false);
    expect(csrf.verify('nonce-1', `${t}x`)).toBe(false);
  });

  it('throttles a username after repeated failures, until the window passes', () => {
    let now = 0;
    const th = new LoginThrottle(3, 1000, () => now);
    for (let i = 0; i < 3; i++) th.failed('a');
    expect(th.blocked('a')).toBe(true);
    expect(th.blocked('b')).toBe(false);
    now = 1001;
    expect(th.blocked('a')).toBe(false);
    th.failed('a');
    th.succeeded('a');
    expect(th.blocked('a')).toBe(false);
  });
});

describe('env', () => {
  it('requires a session secret unless in dev mode', () => {
    expect(() => parseConsoleEnv({})).toThrow(/MS_CONSOLE_SESSION_SECRET/);
    expect(() => parseConsoleEnv({ MS_CONSOLE_SESSION_SECRET: 'short' })).toThrow(/at least 32/);
    const dev = parseConsoleEnv({ MS_CONSOLE_DEV: 'true' });
    expect(dev.secureCookies).toBe(false);
    expect(dev.MS_CONSOLE_PORT).toBe(8090);
    const prod = parseConsoleEnv({ MS_CONSOLE_SESSION_SECRET: 'k'.repeat(40) });
    expect(prod.secureCookies).toBe(true);
    expect(prod.sessionSecret).toBe('k'.repeat(40));
  });
});
