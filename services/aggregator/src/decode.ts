import type { Type } from 'avsc';
import { isRetriable } from '@meterstream/errors';
import { toRegistryError, type ConsumedMessage, type SchemaRegistry } from '@meterstream/kafka';
import type { Logger } from '@meterstream/observability';
import { retry, sleep } from '@meterstream/runtime';
import { BatchAborted, type WorkContext } from './partition.js';
import { KIND_HEADER, type FreezeCommandValue } from './wire.js';

/** A message of the usage topic as the aggregator reads it. */
export type Decoded =
  | { kind: 'reject'; reason: 'not_wire_format' | 'unknown_schema' | 'avro_decode' }
  | { kind: 'freeze'; value: FreezeCommandValue }
  | { kind: 'usage'; value: unknown };

function header(m: ConsumedMessage, name: string): string | undefined {
  return m.headers[name]?.toString();
}

/**
 * Avro types by schema id, fetched from the schema registry once. While the registry is down the
 * batch waits (heartbeating); an id the registry does not know is a reject, not a wait.
 */
export class SchemaCache {
  private readonly types = new Map<number, Type>();

  constructor(
    private readonly registry: SchemaRegistry,
    private readonly logger: Logger,
  ) {}

  async type(id: number, ctx: WorkContext): Promise<Type | undefined> {
    const cached = this.types.get(id);
    if (cached) return cached;
    const t = await retry(() => this.fetch(id), {
      attempts: Number.POSITIVE_INFINITY,
      baseMs: 200,
      maxMs: 5000,
      jitter: 0,
      retriable: () => true,
      onRetry: (err) => {
        this.logger.warn({ err, schemaId: id }, 'schema registry unavailable; retrying');
        if (!ctx.alive()) throw new BatchAborted('stopped while waiting for the schema registry');
      },
      sleep: async (ms) => {
        await sleep(ms);
        await ctx.heartbeat();
      },
    });
    if (!t || typeof (t as { fromBuffer?: unknown }).fromBuffer !== 'function') return undefined;
    this.types.set(id, t);
    return t;
  }

  /** The schema of `id`; undefined when the registry does not know it; throws when it is down. */
  private async fetch(id: number): Promise<Type | undefined> {
    try {
      return (await this.registry.getSchema(id)) as unknown as Type;
    } catch (err) {
      const e = toRegistryError(err, 'get schema');
      if (isRetriable(e)) throw e;
      this.logger.warn({ err: e, schemaId: id }, 'unknown schema id');
      return undefined;
    }
  }

  /**
   * Decodes one message of the usage topic (Confluent wire format: magic byte 0, schema id, Avro).
   * A freeze command is told by its header or by its Avro type.
   */
  async decode(m: ConsumedMessage, ctx: WorkContext): Promise<Decoded> {
    const value = m.value;
    if (!value || value.length < 5 || value[0] !== 0)
      return { kind: 'reject', reason: 'not_wire_format' };
    const t = await this.type(value.readInt32BE(1), ctx);
    if (!t) return { kind: 'reject', reason: 'unknown_schema' };
    let decoded: unknown;
    try {
      decoded = t.fromBuffer(value.subarray(5));
    } catch {
      return { kind: 'reject', reason: 'avro_decode' };
    }
    // avsc never decodes a record to undefined; were it to, the message could not be read either.
    if (decoded === undefined) return { kind: 'reject', reason: 'avro_decode' };
    if (header(m, KIND_HEADER) === 'freeze' || t.name === 'io.meterstream.FreezeCommand')
      return { kind: 'freeze', value: decoded as FreezeCommandValue };
    return { kind: 'usage', value: decoded };
  }
}
