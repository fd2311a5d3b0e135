// Entry point of the aggregator: `node dist/main.js` (configuration: src/env.ts).
import { Metrics, runService } from '@meterstream/observability';
import { loadPlans } from '@meterstream/plans';
import { aggregatorClock, aggregatorConfigFromEnv, loadAggregatorEnv } from './env.js';
import { startAggregator } from './start.js';

const env = loadAggregatorEnv();
const now = aggregatorClock(env);

await runService('aggregator', { logLevel: env.MS_LOG_LEVEL }, async (logger) =>
  startAggregator(aggregatorConfigFromEnv(env), {
    logger,
    metrics: new Metrics('meterstream_aggregator'),
    catalog: env.MS_AGGREGATOR_PLANS_DIR ? await loadPlans(env.MS_AGGREGATOR_PLANS_DIR) : undefined,
    ...(now ? { now } : {}),
  }),
);
