import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPATIBILITY } from '@kafkajs/confluent-schema-registry';
import { freshName, freshTopic, testStack, type TestTopic } from '@meterstream/testing';
import { SchemaType, createSchemaRegistry, registerAvro, wireSchemaId } from './registry.js';

const schema = {
  type: 'record',
  name: 'Probe',
  namespace: 'io.meterstream.test',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'n', type: 'long' },
    { name: 'note', type: ['null', 'string'], default: null },
  ],
};

let t: TestTopic;

beforeAll(async () => {
  t = await freshTopic('avro', 1);
});
afterAll(async () => {
  await t?.drop();
});

describe('Avro through Kafka with the schema registry', () => {
  it('registers, produces in Confluent wire format, consumes and decodes', async () => {
    const stack = await testStack();
    const registry = createSchemaRegistry(stack.schemaRegistryUrl);
    const subject = `${freshName('probe')}-value`;
    const id = await registerAvro(registry, subject, schema);
    expect(await registerAvro(registry, subject, schema)).toBe(id);
    expect(await registry.getLatestSchemaId(subject)).toBe(id);

    const sent = Array.from({ length: 20 }, (_, i) => ({
      id: `e${i}`,
      n: i * 1000,
      note: i % 2 ? null : `ü'\n${i}`,
    }));
    const producer = t.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({
      topic: t.topic,
      acks: -1,
      messages: await Promise.all(
        sent.map(async (v) => ({ key: v.id, value: await registry.encode(id, v) })),
      ),
    });
    await producer.disconnect();

    const consumer = t.kafka.consumer({ groupId: t.groupId });
    await consumer.connect();
    await consumer.subscribe({ topic: t.topic, fromBeginning: true });
    const got: unknown[] = [];
    const done = new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          const value = message.value!;
          expect(value[0]).toBe(0);
          expect(wireSchemaId(value)).toBe(id);
          got.push(await registry.decode(value));
          if (got.length === sent.length) resolve();
        },
      });
    });
    await done;
    await consumer.disconnect();
    expect(got).toEqual(sent);
  });

  it('rejects an incompatible schema change under BACKWARD compatibility', async () => {
    const stack = await testStack();
    const registry = createSchemaRegistry(stack.schemaRegistryUrl);
    const subject = `${freshName('compat')}-value`;
    await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
      { subject, compatibility: COMPATIBILITY.BACKWARD },
    );
    const broken = {
      ...schema,
      fields: [...schema.fields, { name: 'required_new', type: 'string' }],
    };
    await expect(registerAvro(registry, subject, broken)).rejects.toMatchObject({
      code: 'SCHEMA_ERROR',
    });
  });
});
