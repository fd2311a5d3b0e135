import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import bcrypt from 'bcryptjs';
import { z } from 'zod';
import { MeterstreamError } from '@meterstream/errors';
import { MINUTE_MS } from '@meterstream/runtime';
import type { Role, User } from './model.js';

/** bcrypt cost for new hashes. */
export const BCRYPT_COST = 12;

const usersFileSchema = z.object({
  users: z
    .array(
      z.object({
        username: z
          .string()
          .regex(/^[A-Za-z0-9._@-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 . _ @ -'),
        role: z.enum(['viewer', 'operator', 'admin']),
        passwordHash: z
          .string()
          .regex(/^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/, 'must be a bcrypt hash'),
      }),
    )
    .min(1),
});

/** Parses the users file's JSON (`{"users": [{username, role, passwordHash}]}`), naming every problem. */
export function parseUsers(json: string, file = 'users file'): User[] {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    throw new MeterstreamError('CONFIG_INVALID', `${file} is not valid JSON`);
  }
  const r = usersFileSchema.safeParse(doc);
  if (!r.success) {
    const lines = r.error.issues
      .map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('\n');
    throw new MeterstreamError('CONFIG_INVALID', `invalid ${file}:\n${lines}`);
  }
  const names = r.data.users.map((u) => u.username);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup)
    throw new MeterstreamError('CONFIG_INVALID', `invalid ${file}: user ${dup} listed twice`);
  return r.data.users;
}

/** Reads and parses the users file. */
export async function loadUsers(path: string): Promise<User[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new MeterstreamError('CONFIG_INVALID', `cannot read users file ${path}`, { cause: err });
  }
  return parseUsers(text, path);
}

/** Hashes a password with bcrypt. */
export function hashPassword(password: string, cost = BCRYPT_COST): Promise<string> {
  return bcrypt.hash(password, cost);
}

// A real hash to compare against when the user does not exist, so timing does not reveal names.
const DUMMY_HASH = bcrypt.hashSync('meterstream-no-such-user', 4);

/** The user when `password` is theirs, else `undefined` (same work either way). */
export async function authenticate(
  users: readonly User[],
  username: string,
  password: string,
): Promise<User | undefined> {
  const user = users.find((u) => u.username === username);
  const ok = await bcrypt.compare(password, user?.passwordHash ?? DUMMY_HASH);
  return ok && user ? user : undefined;
}

/** What the session cookie carries (it is signed; the role is re-read from config on each request). */
export interface Session {
  username: string;
  role: Role;
  /** Random id; the CSRF token is derived from it. */
  sid: string;
  /** Expiry, epoch ms. */
  exp: number;
}

/** Encodes a session for a (signed) cookie value. */
export function encodeSession(s: Session): string {
  return Buffer.from(JSON.stringify(s), 'utf8').toString('base64url');
}

/** Decodes a session cookie value; `undefined` when malformed or expired. */
export function decodeSession(value: string, now = Date.now()): Session | undefined {
  try {
    const s = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as Partial<Session>;
    if (typeof s.username !== 'string' || typeof s.sid !== 'string' || typeof s.exp !== 'number')
      return undefined;
    if (s.role !== 'viewer' && s.role !== 'operator' && s.role !== 'admin') return undefined;
    if (s.exp <= now) return undefined;
    return { username: s.username, role: s.role, sid: s.sid, exp: s.exp };
  } catch {
    return undefined;
  }
}

/** A new random id (sessions, CSRF nonces). */
export function randomId(bytes = 18): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * CSRF tokens: an HMAC of a per-browser nonce (kept in an httpOnly signed cookie) under the
 * server secret. A page embeds the token; every state change must send it back. Another site can
 * neither read the token nor compute it.
 */
export class Csrf {
  constructor(private readonly secret: string) {}

  token(nonce: string): string {
    return createHmac('sha256', this.secret).update(`csrf|${nonce}`).digest('base64url');
  }

  /** Constant-time check of `token` against the nonce's token. */
  verify(nonce: string | undefined, token: unknown): boolean {
    if (!nonce || typeof token !== 'string' || token.length === 0) return false;
    const want = Buffer.from(this.token(nonce));
    const got = Buffer.from(token);
    return want.length === got.length && timingSafeEqual(want, got);
  }
}

/**
 * Slows password guessing: after {@link LoginThrottle.maxFailures} failed sign-ins for one
 * username within the window, that username is refused until the window has passed.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(
    readonly maxFailures = 5,
    readonly windowMs = 15 * MINUTE_MS,
    private readonly clock: () => number = Date.now,
  ) {}

  private recent(username: string): number[] {
    const since = this.clock() - this.windowMs;
    const list = (this.failures.get(username) ?? []).filter((t) => t > since);
    if (list.length === 0) this.failures.delete(username);
    else this.failures.set(username, list);
    return list;
  }

  blocked(username: string): boolean {
    return this.recent(username).length >= this.maxFailures;
  }

  failed(username: string): void {
    // Bounded memory: forget the oldest usernames when someone sprays many names.
    if (this.failures.size > 10_000)
      this.failures.delete(this.failures.keys().next().value as string);
    this.failures.set(username, [...this.recent(username), this.clock()]);
  }

  succeeded(username: string): void {
    this.failures.delete(username);
  }
}
