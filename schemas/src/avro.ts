import {
  AVRO_NAMESPACE,
  FREEZE_COMMAND_FIELDS,
  USAGE_EVENT_FIELDS,
  type FieldDef,
  type FieldKind,
} from './model.js';

/** An Avro schema as a JSON-compatible object. */
export type AvroSchema = Record<string, unknown>;

const ALLOCATION_RECORD = {
  type: 'record',
  name: 'Allocation',
  namespace: AVRO_NAMESPACE,
  doc: 'A share of the quantity attributed to a set of tags.',
  fields: [
    {
      name: 'quantity',
      type: 'string',
      doc: 'Decimal quantity, same format as the event quantity.',
    },
    {
      name: 'tags',
      type: { type: 'map', values: 'string' },
      doc: 'Tag key -> value (1 to 5 tags).',
    },
  ],
};

function avroField(f: FieldDef): Record<string, unknown> {
  const types: Record<FieldKind, () => Record<string, unknown>> = {
    string: () => ({ type: 'string' }),
    'nullable-string': () => ({ type: ['null', 'string'], default: null }),
    'timestamp-millis': () => ({ type: { type: 'long', logicalType: 'timestamp-millis' } }),
    'string-map': () => ({ type: { type: 'map', values: 'string' }, default: {} }),
    'string-array': () => ({ type: { type: 'array', items: 'string' }, default: [] }),
    allocations: () => ({ type: { type: 'array', items: ALLOCATION_RECORD }, default: [] }),
  };
  return { name: f.name, ...types[f.kind](), doc: f.doc };
}

function avroRecord(name: string, doc: string, fields: readonly FieldDef[]): AvroSchema {
  return { type: 'record', name, namespace: AVRO_NAMESPACE, doc, fields: fields.map(avroField) };
}

/**
 * Avro schema of `io.meterstream.UsageEvent`, the value of usage messages on `usage.events`
 * (header `ms-kind: usage`, or no header). Register it under {@link usageEventSubject}.
 * `timestamp` decodes as a plain number of milliseconds (no logical-type conversion).
 */
export const USAGE_EVENT_AVRO: AvroSchema = avroRecord(
  'UsageEvent',
  'One usage event of one customer of one product (ADR 0001).',
  USAGE_EVENT_FIELDS,
);

/**
 * Avro schema of `io.meterstream.FreezeCommand` (header `ms-kind: freeze`). Register it under
 * {@link freezeCommandSubject}.
 */
export const FREEZE_COMMAND_AVRO: AvroSchema = avroRecord(
  'FreezeCommand',
  'Asks the aggregator to freeze one hour of one customer early (console, contracts).',
  FREEZE_COMMAND_FIELDS,
);
