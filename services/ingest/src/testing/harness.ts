// Test harness for ingest integration tests and the bench (not part of the build).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kafkaFromEnv, parseEnv } from '@meterstream/config';
import {
  createKafkaClient,
  createSchemaRegistry,
  type ConsumedMessage,
  type KafkaClient,
  type SchemaRegistry,
} from '@meterstream/kafka';
import { Metrics, type Logger } from '@meterstream/observability';
import { loadPlans } from '@meterstream/plans';
import { testKafkaClient, testKafkaClientKind, testLogger, testStack } from '@meterstream/testing';
import type { UsageEvent } from '@meterstream/schemas';
import { startIngest, type IngestHandle } from '../start.js';
import { ingestEnvSchema } from '../env.js';
import { KeyStore, newKey, writeKeyFile } from '../keys.js';
import type { PlanLookup } from '../plans.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** A license ARN that the test plans resolve to `demo-platform`. */
export const TEST_LICENSE_ARN = 'arn:aws:license-manager::123456789012:license:l-0123456789abcdef';

/** The repository's example plans, plus a license ARN alias for demo-platform. */
export async function testPlans(): Promise<PlanLookup> {
  const catalog = await loadPlans(join(REPO_ROOT, 'plans'));
  return {
    resolveProduct: (ref) => {
      if (ref === TEST_LICENSE_ARN) {
        const p = catalog.resolveProduct('demo-platform');
        return p && { ...p, licenseArn: TEST_LICENSE_ARN };
      }
      return catalog.resolveProduct(ref);
    },
    hasDimension: (code, dim, at) => catalog.hasDimension(code, dim, at),
  };
}

export interface TestIngest {
  handle: IngestHandle;
  url: string;
  /** Key allowed for demo-analytics and demo-platform. */
  key: string;
  /** Key allowed for demo-platform only. */
  platformKey: string;
  revokedKey: string;
  keysFile: string;
  keys: KeyStore;
  metrics: Metrics;
  registry: SchemaRegistry;
  close(): Promise<void>;
}

/**
 * Starts ingest in-process against the test stack, on a random port and `topic`, with the Kafka
 * client of `MS_TEST_KAFKA_CLIENT` (or the given one).
 */
export async function startTestIngest(options: {
  topic: string;
  env?: Record<string, string>;
  kafka?: KafkaClient;
  logger?: Logger;
}): Promise<TestIngest> {
  const stack = await testStack();
  const dir = mkdtempSync(join(tmpdir(), 'ingest-test-'));
  const keysFile = join(dir, 'keys.json');
  const a = newKey('acme', ['demo-analytics', 'demo-platform']);
  const b = newKey('acme', ['demo-platform']);
  const c = newKey('acme', ['*']);
  c.stored.revokedAt = new Date().toISOString();
  await writeKeyFile(keysFile, { version: 1, keys: [a.stored, b.stored, c.stored] });
  const env = parseEnv(ingestEnvSchema, {
    MS_KAFKA_BROKERS: stack.kafkaBrokers.join(','),
    MS_KAFKA_CLIENT: testKafkaClientKind(),
    MS_SCHEMA_REGISTRY_URL: stack.schemaRegistryUrl,
    MS_USAGE_TOPIC: options.topic,
    MS_INGEST_HOST: '127.0.0.1',
    MS_INGEST_PORT: '0',
    MS_INGEST_KEYS_FILE: keysFile,
    MS_INGEST_CREATE_TOPIC: 'false',
    ...options.env,
  });
  const logger = options.logger ?? testLogger('ingest');
  const kafka = options.kafka ?? createKafkaClient({ ...kafkaFromEnv(env, 'test'), logger });
  const registry = createSchemaRegistry(env.MS_SCHEMA_REGISTRY_URL);
  const metrics = new Metrics('meterstream_ingest', { defaultMetrics: false });
  const keys = new KeyStore(keysFile);
  await keys.load();
  const handle = await startIngest(env, {
    logger,
    metrics,
    kafka,
    registry,
    plans: await testPlans(),
    keys,
  });
  return {
    handle,
    url: handle.url,
    key: a.secret,
    platformKey: b.secret,
    revokedKey: c.secret,
    keysFile,
    keys,
    metrics,
    registry,
    close: async () => {
      await handle.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A valid HTTP-form event of demo-analytics (minus the id, which callers set). */
export function analyticsEvent(
  i: number,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    productCode: 'demo-analytics',
    customerIdentifier: `cust-${i % 7}`,
    dimension: 'api_calls',
    quantity: `${i}.5`,
    timestamp: new Date(Date.now() - 60_000).toISOString(),
    ...extra,
  };
}

/** POSTs a body to /v1/events. */
export async function post(
  url: string,
  key: string | undefined,
  body: string | Buffer,
  contentType = 'application/json',
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${url}/v1/events`, {
    method: 'POST',
    headers: {
      'content-type': contentType,
      ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
    },
    body,
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { status: res.status, json, headers: res.headers };
}

/** One message read back from the topic, decoded. */
export interface ReadBack {
  key: string;
  partition: number;
  kind: string | undefined;
  event: UsageEvent;
}

/** Total messages in `topic` (sum of high watermarks). */
export async function topicCount(topic: string): Promise<number> {
  const admin = (await testKafkaClient('readback')).admin();
  await admin.connect();
  try {
    const offsets = await admin.topicOffsets(topic);
    return offsets.reduce((s, o) => s + Number(o.high) - Number(o.low), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Reads every message now in `topic` and decodes it with the registry. */
export async function readAll(topic: string, registry: SchemaRegistry): Promise<ReadBack[]> {
  const total = await topicCount(topic);
  const out: ReadBack[] = [];
  if (total === 0) return out;
  const consumer = (await testKafkaClient('readback')).consumer({
    groupId: `readback-${topic}-${Date.now()}`,
    maxWaitTimeMs: 200,
  });
  const raw: ConsumedMessage[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`read ${raw.length} of ${total} messages`)),
      60_000,
    );
    consumer
      .run({
        topics: [topic],
        fromBeginning: true,
        eachBatch: async ({ batch, resolveOffset }) => {
          for (const message of batch.messages) {
            raw.push(message);
            resolveOffset(message.offset);
          }
          if (raw.length >= total) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  for (const message of raw) {
    out.push({
      key: message.key?.toString('utf8') ?? '',
      partition: message.partition,
      kind: message.headers['ms-kind']?.toString(),
      event: (await registry.decode(message.value!)) as UsageEvent,
    });
  }
  return out;
}
