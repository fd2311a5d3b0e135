// Entry point of the ingest service: `node dist/main.js` (configuration: src/env.ts).
import { kafkaFromEnv } from '@meterstream/config';
import { createKafkaClient, createSchemaRegistry } from '@meterstream/kafka';
import { Metrics, runService } from '@meterstream/observability';
import { loadPlans } from '@meterstream/plans';
import { loadIngestEnv } from './env.js';
import { startIngest } from './start.js';

const env = loadIngestEnv();

await runService(
  'ingest',
  { logLevel: env.MS_LOG_LEVEL, shutdownTimeoutMs: env.MS_INGEST_SHUTDOWN_TIMEOUT_MS },
  async (logger) =>
    startIngest(env, {
      logger,
      metrics: new Metrics('meterstream_ingest'),
      kafka: createKafkaClient({ ...kafkaFromEnv(env, 'ingest'), logger }),
      registry: createSchemaRegistry(env.MS_SCHEMA_REGISTRY_URL),
      plans: await loadPlans(env.MS_PLANS_DIR),
    }),
);
