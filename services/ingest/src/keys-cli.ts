// `meterstream keys`: manage ingest API keys in the key file (hashes only).
import { parseArgs } from 'node:util';
import { keysFileFromEnv } from './env.js';
import { newKey, readKeyFile, writeKeyFile } from './keys.js';

const DEFAULT_FILE = '.stack/data/ingest/keys.json';

const HELP = `Usage: meterstream keys <command> [options]

Manage the API keys of the ingest service. The key file holds only SHA-256 hashes; the
secret is printed once, at creation. A running ingest picks up changes within seconds.

Commands:
  create --tenant <t> --products <p1,p2|*> [--note <text>]   create a key, print it once
  list [--json]                                              list keys (no secrets)
  revoke <key-id>                                            revoke a key

Options:
  --file <path>   key file (default: $MS_INGEST_KEYS_FILE or ${DEFAULT_FILE})
  -h, --help      show this help
`;

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export async function runKeysCli(
  argv: string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
  err: (s: string) => void = (s) => process.stderr.write(s),
): Promise<number> {
  const args = argv[0] === 'keys' ? argv.slice(1) : argv;
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        tenant: { type: 'string' },
        products: { type: 'string' },
        note: { type: 'string' },
        file: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    err(`${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    out(HELP);
    return values.help || command === 'help' ? 0 : 2;
  }
  const file = values.file ?? keysFileFromEnv() ?? DEFAULT_FILE;
  switch (command) {
    case 'create': {
      const tenant = values.tenant?.trim();
      const products = (values.products ?? '')
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p.length > 0);
      if (!tenant || products.length === 0) {
        err(`create needs --tenant and --products\n\n${HELP}`);
        return 2;
      }
      const keys = await readKeyFile(file);
      const { stored, secret } = newKey(tenant, products, values.note);
      keys.keys.push(stored);
      await writeKeyFile(file, keys);
      if (values.json) out(`${JSON.stringify({ id: stored.id, tenant, products, key: secret })}\n`);
      else
        out(
          `created key ${stored.id} for tenant ${tenant} (products: ${products.join(',')})\n${secret}\nStore it now: it is not shown again.\n`,
        );
      return 0;
    }
    case 'list': {
      const keys = await readKeyFile(file);
      if (values.json) {
        out(`${JSON.stringify(keys.keys.map(({ sha256: _h, ...k }) => k))}\n`);
        return 0;
      }
      for (const k of keys.keys) {
        out(
          `${k.id}  ${k.tenant}  ${k.products.join(',')}  created ${k.createdAt}${k.revokedAt ? `  REVOKED ${k.revokedAt}` : ''}${k.note ? `  ${k.note}` : ''}\n`,
        );
      }
      if (keys.keys.length === 0) out(`no keys in ${file}\n`);
      return 0;
    }
    case 'revoke': {
      const id = rest[0];
      if (!id) {
        err(`revoke needs a key id\n\n${HELP}`);
        return 2;
      }
      const keys = await readKeyFile(file);
      const key = keys.keys.find((k) => k.id === id);
      if (!key) {
        err(`no key ${id} in ${file}\n`);
        return 1;
      }
      key.revokedAt ??= new Date().toISOString();
      await writeKeyFile(file, keys);
      out(`revoked key ${id}\n`);
      return 0;
    }
    default:
      err(`unknown command ${command}\n\n${HELP}`);
      return 2;
  }
}
