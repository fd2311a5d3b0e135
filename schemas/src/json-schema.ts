import { LIMITS, PATTERNS } from './model.js';

const str = (
  maxLength: number,
  pattern?: string,
  description?: string,
): Record<string, unknown> => ({
  type: 'string',
  minLength: 1,
  maxLength,
  ...(pattern ? { pattern } : {}),
  ...(description ? { description } : {}),
});

const quantity = {
  description:
    'Exact decimal >= 0 and <= 2147483647, at most 6 fraction digits. Prefer a string; a JSON number is accepted only when it has at most 15 significant digits and no exponent.',
  oneOf: [
    { type: 'string', pattern: PATTERNS.quantity },
    { type: 'number', minimum: 0, maximum: 2147483647 },
  ],
};

const stringMap = (
  maxProperties: number,
  keyMax: number,
  valueMax: number,
  keyPattern?: string,
): Record<string, unknown> => ({
  type: 'object',
  maxProperties,
  propertyNames: {
    minLength: 1,
    maxLength: keyMax,
    ...(keyPattern ? { pattern: keyPattern } : {}),
  },
  additionalProperties: { type: 'string', maxLength: valueMax },
});

/**
 * JSON Schema (draft 2020-12) of one usage event as sent to `POST /v1/events` (HTTP form).
 * Differs from the Avro form: `id` is optional (ingest assigns a UUIDv7), `timestamp` is an
 * RFC 3339 string, the product may be given by `licenseArn` alone, and optional fields may be
 * omitted. Ingest additionally checks calendar validity, the timestamp window, allocation sums
 * and the product plans.
 */
export const USAGE_EVENT_JSON_SCHEMA: Record<string, unknown> = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://meterstream.dev/schemas/usage-event.schema.json',
  title: 'UsageEvent (HTTP)',
  type: 'object',
  additionalProperties: false,
  required: ['dimension', 'quantity', 'timestamp'],
  properties: {
    id: str(
      LIMITS.idMaxLength,
      PATTERNS.id,
      'Idempotency key; assigned (UUIDv7) and returned when absent.',
    ),
    productCode: str(
      LIMITS.productCodeMaxLength,
      PATTERNS.productCode,
      'AWS Marketplace product code.',
    ),
    licenseArn: str(
      LIMITS.licenseArnMaxLength,
      PATTERNS.licenseArn,
      'License ARN; names the product when productCode is absent.',
    ),
    customerIdentifier: str(
      LIMITS.customerIdentifierMaxLength,
      undefined,
      'Classic SaaS customer identifier.',
    ),
    customerAwsAccountId: {
      type: 'string',
      pattern: PATTERNS.customerAwsAccountId,
      description: "Buyer's AWS account id.",
    },
    dimension: str(LIMITS.dimensionMaxLength, undefined, "One of the product plan's dimensions."),
    quantity,
    timestamp: {
      type: 'string',
      pattern: PATTERNS.timestamp,
      description: 'RFC 3339 date-time of the usage.',
    },
    allocations: {
      type: 'array',
      maxItems: LIMITS.allocationsMax,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['quantity', 'tags'],
        properties: {
          quantity,
          tags: {
            ...stringMap(
              LIMITS.allocationTagsMax,
              LIMITS.tagKeyMaxLength,
              LIMITS.tagValueMaxLength,
              PATTERNS.tagKey,
            ),
            minProperties: 1,
          },
        },
      },
    },
    source: str(LIMITS.sourceMaxLength),
    actor: str(LIMITS.actorMaxLength),
    attributes: stringMap(
      LIMITS.attributesMax,
      LIMITS.attributeKeyMaxLength,
      LIMITS.attributeValueMaxLength,
    ),
  },
  allOf: [
    { anyOf: [{ required: ['productCode'] }, { required: ['licenseArn'] }] },
    { oneOf: [{ required: ['customerIdentifier'] }, { required: ['customerAwsAccountId'] }] },
  ],
};
