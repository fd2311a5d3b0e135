import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MeterstreamError } from '@meterstream/errors';

/**
 * An API key as stored: the secret is never stored, only its SHA-256. The secret is 32 random
 * bytes, so a fast hash is safe (no dictionary to attack); scrypt would cost ~50 ms per request.
 */
export interface StoredKey {
  /** Public id, part of the key; used to look the key up and in logs/actor. */
  id: string;
  tenant: string;
  /** Product codes this key may send usage for; `*` means all products. */
  products: string[];
  /** Hex SHA-256 of the secret part. */
  sha256: string;
  createdAt: string;
  revokedAt?: string;
  note?: string;
}

/** The key file format (JSON). */
export interface KeyFile {
  version: 1;
  keys: StoredKey[];
}

/** An authenticated caller. */
export interface Principal {
  keyId: string;
  tenant: string;
  products: ReadonlySet<string> | 'all';
}

const KEY_RE = /^msk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Creates a new key. Returns the stored form and the secret to show once. */
export function newKey(
  tenant: string,
  products: string[],
  note?: string,
): { stored: StoredKey; secret: string } {
  const id = randomBytes(8).toString('hex');
  const secretPart = randomBytes(32).toString('base64url');
  return {
    secret: `msk_${id}_${secretPart}`,
    stored: {
      id,
      tenant,
      products,
      sha256: sha256(secretPart).toString('hex'),
      createdAt: new Date().toISOString(),
      ...(note ? { note } : {}),
    },
  };
}

export async function readKeyFile(path: string): Promise<KeyFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, keys: [] };
    throw err;
  }
  const parsed = JSON.parse(text) as KeyFile;
  if (parsed.version !== 1 || !Array.isArray(parsed.keys)) {
    throw new MeterstreamError('CONFIG_INVALID', `key file ${path} is not a version 1 key file`);
  }
  return parsed;
}

/** Writes the key file atomically (temp file + rename), readable by the owner only. */
export async function writeKeyFile(path: string, file: KeyFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}

/**
 * The keys the server accepts, loaded from the key file and re-read when its mtime changes,
 * so `meterstream keys revoke` takes effect without a restart.
 */
export class KeyStore {
  private byId = new Map<string, StoredKey>();
  private mtimeMs = -1;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly path: string) {}

  /** Loads the file now; throws on a malformed file (a bad key file must not start the service). */
  async load(): Promise<void> {
    const st = await stat(this.path).catch(() => undefined);
    const file = await readKeyFile(this.path);
    this.byId = new Map(file.keys.map((k) => [k.id, k]));
    this.mtimeMs = st?.mtimeMs ?? -1;
  }

  /** Re-reads the file every `intervalMs` when it changed; a broken file keeps the last good keys. */
  watch(intervalMs: number, onError: (err: unknown) => void): void {
    this.timer = setInterval(() => {
      void (async () => {
        try {
          const st = await stat(this.path).catch(() => undefined);
          if ((st?.mtimeMs ?? -1) !== this.mtimeMs) await this.load();
        } catch (err) {
          onError(err);
        }
      })();
    }, intervalMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  get size(): number {
    return this.byId.size;
  }

  /** The principal of a presented key, or `undefined` (unknown, revoked or wrong secret). */
  authenticate(presented: string): Principal | undefined {
    const m = KEY_RE.exec(presented);
    if (!m) return undefined;
    const stored = this.byId.get(m[1]!);
    // Hash anyway when the id is unknown, so timing does not reveal which ids exist.
    const actual = sha256(m[2]!);
    const expected = stored ? Buffer.from(stored.sha256, 'hex') : Buffer.alloc(32);
    const equal = expected.length === actual.length && timingSafeEqual(expected, actual);
    if (!stored || !equal || stored.revokedAt !== undefined) return undefined;
    return {
      keyId: stored.id,
      tenant: stored.tenant,
      products: stored.products.includes('*') ? 'all' : new Set(stored.products),
    };
  }
}
