import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { MeterstreamError } from '@meterstream/errors';

export { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';

/** A schema registry client for a Confluent-compatible registry (Apicurio's ccompat API, Confluent, Karapace). */
export function createSchemaRegistry(url: string): SchemaRegistry {
  return new SchemaRegistry({
    host: url.replace(/\/+$/, ''),
    clientId: 'meterstream',
    retry: { retries: 3 },
  });
}

/** Registers an Avro schema under `subject` (idempotent: the same schema gets the same id). */
export async function registerAvro(
  registry: SchemaRegistry,
  subject: string,
  schema: object,
): Promise<number> {
  try {
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
      { subject },
    );
    return id;
  } catch (err) {
    throw toRegistryError(err, 'register');
  }
}

/** Magic byte that starts every Confluent wire-format message. */
export const WIRE_MAGIC = 0;

/** Reads the schema id of a Confluent wire-format message, or throws SCHEMA_ERROR. */
export function wireSchemaId(buf: Buffer): number {
  if (buf.length < 5 || buf[0] !== WIRE_MAGIC) {
    throw new MeterstreamError(
      'SCHEMA_ERROR',
      'message is not in Confluent wire format (magic byte + schema id)',
    );
  }
  return buf.readInt32BE(1);
}

/** Converts registry failures: unreachable → retriable, anything else → SCHEMA_ERROR. */
export function toRegistryError(err: unknown, op: string): MeterstreamError {
  if (err instanceof MeterstreamError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const status = (err as { status?: unknown }).status;
  const unavailable =
    /ECONNREFUSED|ECONNRESET|socket hang up|ETIMEDOUT|fetch failed/i.test(message) ||
    (typeof status === 'number' && status >= 500);
  return new MeterstreamError(
    unavailable ? 'SCHEMA_REGISTRY_UNAVAILABLE' : 'SCHEMA_ERROR',
    `schema registry ${op} failed: ${message}`,
    {
      cause: err,
    },
  );
}
