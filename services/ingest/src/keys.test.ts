import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyStore, newKey, writeKeyFile } from './keys.js';

const dir = mkdtempSync(join(tmpdir(), 'ingest-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('KeyStore', () => {
  it('authenticates live keys only', async () => {
    const file = join(dir, 'ks.json');
    const a = newKey('t', ['*']);
    const b = newKey('t', ['p']);
    b.stored.revokedAt = new Date().toISOString();
    await writeKeyFile(file, { version: 1, keys: [a.stored, b.stored] });
    const ks = new KeyStore(file);
    await ks.load();
    expect(ks.authenticate(a.secret)).toMatchObject({
      tenant: 't',
      products: 'all',
      keyId: a.stored.id,
    });
    expect(ks.authenticate(b.secret)).toBeUndefined();
    expect(
      ks.authenticate(a.secret.slice(0, -1) + (a.secret.endsWith('A') ? 'B' : 'A')),
    ).toBeUndefined();
    expect(ks.authenticate('nonsense')).toBeUndefined();
  });
});
