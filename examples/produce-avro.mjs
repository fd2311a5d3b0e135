// The direct path: a backend producing usage events to Kafka itself, in Avro with the schema
// registry, instead of calling the ingest HTTP API. What it must do (ADR 0001):
//  - value: Confluent wire format of io.meterstream.UsageEvent (schemas/avro/usage-event.avsc),
//    registered under `<topic>-value`;
//  - key: `<productCode>|<customer>` so one customer's usage of one product stays in order;
//  - header `ms-kind: usage` (optional: no header also means usage);
//  - an idempotent producer with acks=all, and a stable `id` per event: re-sending after a
//    failure is safe, the aggregator counts each id once;
//  - quantity as an exact decimal string ("12.5"), timestamp as epoch milliseconds.
// Nobody validates on this path before Kafka: the aggregator rejects bad events (and counts them).
//
// Usage: node examples/produce-avro.mjs [count]
//   MS_KAFKA_BROKERS (127.0.0.1:9092), MS_SCHEMA_REGISTRY_URL, MS_USAGE_TOPIC (usage.events)
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Kafka, Partitioners, logLevel } from 'kafkajs';

const brokers = (process.env.MS_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const registryUrl = process.env.MS_SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
const topic = process.env.MS_USAGE_TOPIC ?? 'usage.events';
const count = Number(process.argv[2] ?? 10);

const schema = readFileSync(new URL('../schemas/avro/usage-event.avsc', import.meta.url), 'utf8');
const registry = new SchemaRegistry({ host: registryUrl });
const { id: schemaId } = await registry.register(
  { type: SchemaType.AVRO, schema },
  { subject: `${topic}-value` },
);

const kafka = new Kafka({ clientId: 'example-backend', brokers, logLevel: logLevel.WARN });
const producer = kafka.producer({
  idempotent: true,
  maxInFlightRequests: 1,
  createPartitioner: Partitioners.DefaultPartitioner,
});
await producer.connect();

const hour = Date.now() - (Date.now() % 3_600_000);
const events = Array.from({ length: count }, (_, i) => ({
  id: randomUUID(),
  productCode: 'demo-analytics',
  licenseArn: null,
  customerIdentifier: `customer-${i % 3}`,
  customerAwsAccountId: null,
  dimension: 'api_calls',
  quantity: `${i + 1}.25`,
  timestamp: hour + i,
  allocations: [],
  source: 'example-backend',
  actor: null,
  attributes: { example: 'produce-avro' },
}));

try {
  await producer.send({
    topic,
    acks: -1,
    messages: await Promise.all(
      events.map(async (e) => ({
        key: `${e.productCode}|${e.customerIdentifier ?? e.customerAwsAccountId}`,
        value: await registry.encode(schemaId, e),
        headers: { 'ms-kind': 'usage' },
      })),
    ),
  });
  process.stdout.write(
    `${JSON.stringify({ topic, schemaId, produced: events.map((e) => e.id) })}\n`,
  );
} finally {
  await producer.disconnect();
}
