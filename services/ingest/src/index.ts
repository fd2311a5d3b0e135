/** `@meterstream/ingest`: the HTTP ingest service, as a library for tests and the bench. */
export { buildServer, type ServerConfig, type ServerDeps, type EventError } from './server.js';
export { startIngest, type IngestDeps, type IngestHandle } from './start.js';
export { ingestMetrics, produceObserver, type IngestMetrics } from './metrics.js';
export { KafkaSink, type EventSink, type OutRecord } from './sink.js';
export {
  KeyStore,
  newKey,
  readKeyFile,
  writeKeyFile,
  type Principal,
  type StoredKey,
} from './keys.js';
export { ingestEnvSchema, ingestServerConfig, loadIngestEnv, type IngestEnv } from './env.js';
export { runKeysCli } from './keys-cli.js';
export { CLOUDEVENT_TYPE, MEDIA_TYPES, bodyFormat, fromCloudEvent, parseBody } from './parse.js';
export type { PlanLookup } from './plans.js';
