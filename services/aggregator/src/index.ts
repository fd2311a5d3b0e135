export {
  startAggregator,
  type Aggregator,
  type AggregatorConfig,
  type AggregatorDeps,
  type AggregatorHandle,
  type ProductResolver,
} from './start.js';
export {
  aggregatorConfigFromEnv,
  aggregatorEnvSchema,
  configFromEnv,
  parseAggregatorEnv,
  type AggregatorEnv,
} from './env.js';
export { produceFreezeCommand } from './freeze-command.js';
export { HOUR_MS, hourOf, isTooOldForAws } from './hours.js';
export { MIGRATIONS, TABLES, VIEWS } from './migrations.js';
export * from './wire.js';
