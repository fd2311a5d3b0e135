export * from './auditor.js';
export * from './cloudtrail.js';
export * from './conservation.js';
export * from './env.js';
export * from './limiter.js';
export * from './metrics.js';
export * from './notify.js';
export * from './parse.js';
export * from './reader.js';
export * from './reconcile.js';
export * from './report.js';
export * from './migrations.js';
export * from './store.js';
export * from './trace.js';
export {
  auditorConfigFromEnv,
  awsOptionsFromEnv,
  CONSERVATION_DEFAULTS,
  conservationFromEnv,
  main,
} from './main.js';
export { runCli, parseTime, HELP, EXIT } from './cli.js';
