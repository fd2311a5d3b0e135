import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSchemaRegistry } from '@meterstream/kafka';
import { checkUsageEvent, usageEventKey } from '@meterstream/schemas';
import { freshTopic, testStack, type TestTopic } from '@meterstream/testing';
import { REPO_ROOT, readAll } from './testing/harness.js';

describe('examples/produce-avro.mjs (the direct Avro path)', () => {
  let t: TestTopic;
  beforeAll(async () => {
    t = await freshTopic('example-avro', 3);
  });
  afterAll(async () => {
    await t?.drop();
  });

  it('produces valid usage events that decode with the registry', async () => {
    const stack = await testStack();
    const { stdout } = await promisify(execFile)(
      'node',
      [join(REPO_ROOT, 'examples/produce-avro.mjs'), '25'],
      {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          MS_KAFKA_BROKERS: stack.kafkaBrokers.join(','),
          MS_SCHEMA_REGISTRY_URL: stack.schemaRegistryUrl,
          MS_USAGE_TOPIC: t.topic,
          KAFKAJS_NO_PARTITIONER_WARNING: '1',
        },
      },
    );
    const out = JSON.parse(stdout) as { produced: string[] };
    const got = await readAll(t.topic, createSchemaRegistry(stack.schemaRegistryUrl));
    expect(got.map((g) => g.event.id).sort()).toEqual([...out.produced].sort());
    for (const g of got) {
      expect(checkUsageEvent(g.event)).toEqual([]);
      expect(g.key).toBe(usageEventKey(g.event));
      expect(g.kind).toBe('usage');
    }
  });
});
