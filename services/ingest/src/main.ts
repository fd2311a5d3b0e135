// Entry point of the ingest service: `node dist/main.js` (configuration: src/env.ts).
import { createKafka, createSchemaRegistry } from '@meterstream/kafka';
import { Lifecycle, Metrics, createLogger } from '@meterstream/observability';
import { loadPlans } from '@meterstream/plans';
import { startIngest } from './app.js';
import { loadIngestEnv } from './env.js';

const env = loadIngestEnv();
const logger = createLogger('ingest', { level: env.MS_LOG_LEVEL });
const lifecycle = new Lifecycle(logger, env.MS_INGEST_SHUTDOWN_TIMEOUT_MS);
lifecycle.handleSignals();

try {
  const plans = await loadPlans(env.MS_PLANS_DIR);
  const kafka = createKafka({
    brokers: env.MS_KAFKA_BROKERS,
    clientId: `${env.MS_KAFKA_CLIENT_ID}-ingest`,
    logger,
  });
  const registry = createSchemaRegistry(env.MS_SCHEMA_REGISTRY_URL);
  const metrics = new Metrics('meterstream_ingest');
  const ingest = await startIngest({ env, logger, metrics, kafka, registry, plans });
  lifecycle.onClose('ingest', () => ingest.close());
  lifecycle.running();
} catch (err) {
  logger.fatal({ err }, 'ingest failed to start');
  await lifecycle.shutdown().catch(() => undefined);
  process.exit(1);
}
