import { loadPlans } from '@meterstream/plans';
import { Lifecycle, Metrics, createLogger } from '@meterstream/observability';
import { startAggregator, type ProductResolver } from './aggregator.js';
import { configFromEnv } from './config.js';
import { loadAggregatorEnv } from './env.js';

const env = loadAggregatorEnv();
const logger = createLogger('aggregator', { level: env.MS_LOG_LEVEL });
const lifecycle = new Lifecycle(logger);
lifecycle.handleSignals();

async function main(): Promise<void> {
  const metrics = new Metrics('meterstream_aggregator');
  let catalog: ProductResolver | undefined;
  if (env.MS_AGGREGATOR_PLANS_DIR) catalog = await loadPlans(env.MS_AGGREGATOR_PLANS_DIR);
  const aggregator = await startAggregator(configFromEnv(env), {
    logger,
    metrics,
    catalog,
    ...(env.MS_AGGREGATOR_CLOCK_OFFSET_MS !== 0
      ? { now: () => Date.now() + env.MS_AGGREGATOR_CLOCK_OFFSET_MS }
      : {}),
  });
  lifecycle.onClose('aggregator', () => aggregator.stop());
  lifecycle.running();
  logger.info({ opsPort: aggregator.opsPort }, 'aggregator running');
}

main().catch((err: unknown) => {
  logger.fatal({ err }, 'aggregator failed to start');
  process.exit(1);
});
