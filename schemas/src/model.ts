/**
 * The one source of truth for the records on `usage.events` (ADR 0001). The Avro schemas, the
 * JSON Schema of the HTTP form and the TypeScript types are all derived from the field tables
 * below; `npm run generate -w @meterstream/schemas` writes the schema files, and a unit test
 * fails when the committed files differ from what this module generates.
 */

/** Avro namespace of every Meterstream record. */
export const AVRO_NAMESPACE = 'io.meterstream';

/** Limits shared by the validator and the JSON Schema. */
export const LIMITS = {
  idMaxLength: 128,
  productCodeMaxLength: 255,
  licenseArnMaxLength: 2048,
  customerIdentifierMaxLength: 255,
  dimensionMaxLength: 255,
  sourceMaxLength: 256,
  actorMaxLength: 256,
  /** AWS UsageAllocations: at most 2500 allocations per record. */
  allocationsMax: 2500,
  /** AWS: at most 5 tags per allocation. */
  allocationTagsMax: 5,
  tagKeyMaxLength: 100,
  tagValueMaxLength: 256,
  attributesMax: 50,
  attributeKeyMaxLength: 128,
  attributeValueMaxLength: 1024,
} as const;

/** Patterns shared by the validator and the JSON Schema (JS `RegExp` source, also valid ECMA-262 for JSON Schema). */
export const PATTERNS = {
  /** Printable ASCII without spaces: UUIDs, ULIDs, `order-42/line-3`, … */
  id: '^[\\x21-\\x7E]+$',
  /** AWS ProductCode alphabet. */
  productCode: '^[-a-zA-Z0-9/=:_.@]+$',
  licenseArn: '^arn:aws[a-z-]*:license-manager:[a-z0-9-]*:[0-9]{12}:license[:/][-a-zA-Z0-9/_.]+$',
  customerAwsAccountId: '^[0-9]{12}$',
  /** AWS tag keys of UsageAllocations. */
  tagKey: '^[a-zA-Z0-9+ -=._:\\/@]+$',
  /** RFC 3339 date-time (validated further for real calendar dates). */
  timestamp: '^\\d{4}-\\d{2}-\\d{2}[Tt]\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?([Zz]|[+-]\\d{2}:\\d{2})$',
  quantity: '^\\d{1,10}(\\.\\d{1,6})?$',
} as const;

/** The kinds of field a record may have, each with one Avro and one TypeScript form. */
export type FieldKind =
  'string' | 'nullable-string' | 'timestamp-millis' | 'string-map' | 'string-array' | 'allocations';

/** One field of a record. */
export interface FieldDef {
  readonly name: string;
  readonly kind: FieldKind;
  readonly doc: string;
}

/** One allocation of an event's quantity to a set of tags (AWS UsageAllocations). */
export interface Allocation {
  /** Decimal quantity string, same format as the event's quantity. */
  quantity: string;
  /** Tag key → value; 1 to 5 tags. */
  tags: Record<string, string>;
}

interface KindTypes {
  string: string;
  'nullable-string': string | null;
  'timestamp-millis': number;
  'string-map': Record<string, string>;
  'string-array': string[];
  allocations: Allocation[];
}

/** The TypeScript type of a record with the given fields. */
export type RecordOf<F extends readonly FieldDef[]> = {
  -readonly [D in F[number] as D['name']]: KindTypes[D['kind']];
};

/** Fields of `io.meterstream.UsageEvent`, in Avro order (ADR 0001). */
export const USAGE_EVENT_FIELDS = [
  {
    name: 'id',
    kind: 'string',
    doc: "Idempotency key: the producer's, or a UUIDv7 ingest assigned. A re-sent event with the same id counts once.",
  },
  {
    name: 'productCode',
    kind: 'nullable-string',
    doc: 'AWS Marketplace product code. Ingest always fills it (normalized from licenseArn).',
  },
  {
    name: 'licenseArn',
    kind: 'nullable-string',
    doc: "License ARN of the buyer's subscription (products identifying buyers by AWS account id).",
  },
  {
    name: 'customerIdentifier',
    kind: 'nullable-string',
    doc: 'Classic SaaS customer identifier. Exactly one of customerIdentifier and customerAwsAccountId is set.',
  },
  {
    name: 'customerAwsAccountId',
    kind: 'nullable-string',
    doc: "Buyer's 12-digit AWS account id. Exactly one of customerIdentifier and customerAwsAccountId is set.",
  },
  {
    name: 'dimension',
    kind: 'string',
    doc: "Usage dimension, one of the product plan's dimensions.",
  },
  {
    name: 'quantity',
    kind: 'string',
    doc: 'Exact decimal quantity >= 0: ^\\d{1,10}(\\.\\d{1,6})?$, at most 2147483647.',
  },
  {
    name: 'timestamp',
    kind: 'timestamp-millis',
    doc: 'When the usage happened, milliseconds since the Unix epoch (UTC).',
  },
  {
    name: 'allocations',
    kind: 'allocations',
    doc: "Split of the quantity by tags (AWS UsageAllocations); the quantities sum to the event's quantity. Empty: none.",
  },
  {
    name: 'source',
    kind: 'string',
    doc: 'Where the event came from (producer name, CloudEvents source, ingest tenant).',
  },
  {
    name: 'actor',
    kind: 'nullable-string',
    doc: 'Who caused the event when a person did (console user), or the ingest API key id.',
  },
  {
    name: 'attributes',
    kind: 'string-map',
    doc: 'Free string attributes for analysts; never billed.',
  },
] as const satisfies readonly FieldDef[];

/** Fields of `io.meterstream.FreezeCommand` (ADR 0001). */
export const FREEZE_COMMAND_FIELDS = [
  { name: 'requestId', kind: 'string', doc: 'Unique id of this freeze request (idempotency key).' },
  { name: 'productCode', kind: 'string', doc: 'AWS Marketplace product code.' },
  {
    name: 'customer',
    kind: 'string',
    doc: 'Customer identifier or AWS account id, per customerKind.',
  },
  { name: 'customerKind', kind: 'string', doc: 'identifier | account' },
  {
    name: 'dimensions',
    kind: 'string-array',
    doc: 'Dimensions to freeze; empty means all of the product.',
  },
  {
    name: 'hour',
    kind: 'timestamp-millis',
    doc: 'Start of the hour to freeze, milliseconds since the Unix epoch (UTC).',
  },
  { name: 'requestedBy', kind: 'string', doc: 'Console user who asked for the freeze.' },
  {
    name: 'requestedAt',
    kind: 'timestamp-millis',
    doc: 'When the freeze was requested, milliseconds since the Unix epoch.',
  },
] as const satisfies readonly FieldDef[];

/** A usage event as it travels on Kafka (Avro `io.meterstream.UsageEvent`). */
export type UsageEvent = RecordOf<typeof USAGE_EVENT_FIELDS>;

/** A freeze command on Kafka (Avro `io.meterstream.FreezeCommand`). */
export type FreezeCommand = RecordOf<typeof FREEZE_COMMAND_FIELDS>;

/** How a customer is identified, in Kafka and ClickHouse (`customer_kind`). */
export type CustomerKind = 'identifier' | 'account';
