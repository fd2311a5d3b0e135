export {
  startAggregator,
  type Aggregator,
  type AggregatorConfig,
  type AggregatorDeps,
  type ProductResolver,
} from './aggregator.js';
export { configFromEnv } from './config.js';
export { aggregatorEnvSchema, parseAggregatorEnv, type AggregatorEnv } from './env.js';
export { produceFreezeCommand } from './freeze-command.js';
export { HOUR_MS, hourOf, isTooOldForAws } from './hours.js';
export { MIGRATIONS, TABLES, VIEWS } from './migrations.js';
export * from './wire.js';
