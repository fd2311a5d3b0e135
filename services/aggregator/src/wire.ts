/**
 * The Kafka side of ADR 0001 as the aggregator reads it: Avro schemas (identical to the ones in
 * `@meterstream/schemas`, kept here so the decoder and its tests do not wait on that package),
 * subjects, the kind header and the message key.
 */

/** Header that says what a message on `usage.events` is. */
export const KIND_HEADER = 'ms-kind';

/** Subject of the usage event value schema for a topic. */
export const usageEventSubject = (topic: string): string => `${topic}-value`;

/** Subject of the freeze command schema for a topic (record-name strategy). */
export const freezeCommandSubject = (topic: string): string =>
  `${topic}-io.meterstream.FreezeCommand`;

/** Kafka key of a customer's messages: `<productCode>|<customer>`. */
export const messageKey = (productCode: string, customer: string): string =>
  `${productCode}|${customer}`;

const nullableString = { type: ['null', 'string'], default: null };

/** Avro `io.meterstream.UsageEvent` (ADR 0001). */
export const USAGE_EVENT_SCHEMA = {
  type: 'record',
  name: 'UsageEvent',
  namespace: 'io.meterstream',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'productCode', ...nullableString },
    { name: 'licenseArn', ...nullableString },
    { name: 'customerIdentifier', ...nullableString },
    { name: 'customerAwsAccountId', ...nullableString },
    { name: 'dimension', type: 'string' },
    { name: 'quantity', type: 'string' },
    { name: 'timestamp', type: { type: 'long', logicalType: 'timestamp-millis' } },
    {
      name: 'allocations',
      type: {
        type: 'array',
        items: {
          type: 'record',
          name: 'Allocation',
          fields: [
            { name: 'quantity', type: 'string' },
            { name: 'tags', type: { type: 'map', values: 'string' } },
          ],
        },
      },
      default: [],
    },
    { name: 'source', type: 'string' },
    { name: 'actor', ...nullableString },
    { name: 'attributes', type: { type: 'map', values: 'string' }, default: {} },
  ],
} as const;

/** Avro `io.meterstream.FreezeCommand` (ADR 0001). */
export const FREEZE_COMMAND_SCHEMA = {
  type: 'record',
  name: 'FreezeCommand',
  namespace: 'io.meterstream',
  fields: [
    { name: 'requestId', type: 'string' },
    { name: 'productCode', type: 'string' },
    { name: 'customer', type: 'string' },
    { name: 'customerKind', type: 'string' },
    { name: 'dimensions', type: { type: 'array', items: 'string' }, default: [] },
    { name: 'hour', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'requestedBy', type: 'string' },
    { name: 'requestedAt', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
} as const;

/** A decoded usage event (fields as ADR 0001 names them). */
export interface UsageEventValue {
  id: string;
  productCode: string | null;
  licenseArn: string | null;
  customerIdentifier: string | null;
  customerAwsAccountId: string | null;
  dimension: string;
  quantity: string;
  timestamp: number;
  allocations: { quantity: string; tags: Record<string, string> }[];
  source: string;
  actor: string | null;
  attributes: Record<string, string>;
}

/** A decoded freeze command. */
export interface FreezeCommandValue {
  requestId: string;
  productCode: string;
  customer: string;
  customerKind: string;
  dimensions: string[];
  hour: number;
  requestedBy: string;
  requestedAt: number;
}

const QUANTITY = /^(\d{1,10})(?:\.(\d{1,6}))?$/;

/**
 * Exact decimal quantity → integer micro-units as a decimal string (no float, no bigint on the hot
 * path), or `undefined` when the string is not a valid quantity.
 */
export function quantityToMicros(q: string): string | undefined {
  const m = QUANTITY.exec(q);
  if (!m) return undefined;
  const digits = (m[1] ?? '') + (m[2] ?? '').padEnd(6, '0');
  const trimmed = digits.replace(/^0+(?=\d)/, '');
  return trimmed;
}
