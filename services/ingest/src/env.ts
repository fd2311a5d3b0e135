import { z } from 'zod';
import {
  bool,
  kafkaEnv,
  loadEnvOrExit,
  observabilityEnv,
  port,
  posInt,
  type Env,
} from '@meterstream/config';
import type { ServerConfig } from './server.js';

const duration = (defMs: number) => z.coerce.number().int().nonnegative().default(defMs);

/**
 * Every configuration key of the ingest service. Parsed once at start; a bad value stops the
 * process naming every broken key.
 */
export const ingestEnvSchema = z.object({
  ...kafkaEnv,
  ...observabilityEnv,
  MS_INGEST_HOST: z.string().min(1).default('0.0.0.0').describe('Address the HTTP API listens on'),
  MS_INGEST_PORT: port(8080).describe('HTTP port of the API, /metrics, /healthz and /readyz'),
  MS_INGEST_BODY_LIMIT_BYTES: posInt(5 * 1024 * 1024).describe(
    'Largest request body; larger bodies get 413',
  ),
  MS_INGEST_MAX_EVENT_BYTES: posInt(256 * 1024).describe(
    'Largest encoded (Avro) event; larger events get 422',
  ),
  MS_INGEST_MAX_EVENTS_PER_REQUEST: posInt(10_000).describe(
    'Most events in one request; more get 413',
  ),
  MS_INGEST_MAX_INFLIGHT_EVENTS: posInt(25_000).describe(
    'Events accepted but not yet acknowledged by Kafka; beyond this, requests get 503 + Retry-After',
  ),
  MS_INGEST_RETRY_AFTER_S: posInt(1).describe('Retry-After seconds sent with 503 answers'),
  MS_INGEST_REQUEST_TIMEOUT_MS: posInt(10_000).describe(
    'Longest time to receive a whole request (headers and body); a slower client gets 408 and its connection is closed',
  ),
  MS_INGEST_PRODUCE_TIMEOUT_MS: posInt(10_000).describe(
    'Longest wait for Kafka to acknowledge a request; then 503 (the client re-sends with the same ids)',
  ),
  MS_INGEST_MAX_EVENT_AGE_MS: duration(7 * 24 * 3600_000).describe(
    'Oldest accepted event timestamp, ms before now (late usage is carried forward by the aggregator)',
  ),
  MS_INGEST_MAX_EVENT_SKEW_MS: duration(5 * 60_000).describe(
    'Newest accepted event timestamp, ms after now (clock skew)',
  ),
  MS_INGEST_MAX_SEND_BYTES: posInt(900_000).describe(
    'Largest total value size of one Kafka produce call (stay under the broker message.max.bytes of 1 MiB)',
  ),
  MS_INGEST_LINGER_MS: duration(0).describe(
    'Extra wait to coalesce requests into one produce call (0: only while one is in flight)',
  ),
  MS_PLANS_DIR: z
    .string()
    .min(1)
    .default('plans')
    .describe('Directory of the metering plans (plans/*.yaml)'),
  MS_INGEST_KEYS_FILE: z
    .string()
    .min(1)
    .default('.stack/data/ingest/keys.json')
    .describe('API key file managed by `meterstream keys` (hashes only); re-read when it changes'),
  MS_INGEST_KEYS_RELOAD_MS: posInt(2_000).describe('How often the key file is checked for changes'),
  MS_INGEST_CREATE_TOPIC: bool(true).describe(
    'Create the usage topic at start when it does not exist',
  ),
  MS_INGEST_SHUTDOWN_TIMEOUT_MS: posInt(30_000).describe(
    'Longest graceful shutdown (draining in-flight requests)',
  ),
});

/** The parsed configuration of the ingest service. */
export type IngestEnv = z.infer<typeof ingestEnvSchema>;

/** Parses the process environment or exits 78 naming every broken key. */
export function loadIngestEnv(env: Env = process.env): IngestEnv {
  return loadEnvOrExit('ingest', ingestEnvSchema, env);
}

/** The key file path from the environment (for the keys CLI, which needs nothing else). */
export function keysFileFromEnv(env: Env = process.env): string | undefined {
  return env.MS_INGEST_KEYS_FILE;
}

/** The HTTP API's limits and policies from the environment. */
export function ingestServerConfig(env: IngestEnv): ServerConfig {
  return {
    bodyLimitBytes: env.MS_INGEST_BODY_LIMIT_BYTES,
    maxEventsPerRequest: env.MS_INGEST_MAX_EVENTS_PER_REQUEST,
    maxEventAgeMs: env.MS_INGEST_MAX_EVENT_AGE_MS,
    maxEventSkewMs: env.MS_INGEST_MAX_EVENT_SKEW_MS,
    retryAfterSeconds: env.MS_INGEST_RETRY_AFTER_S,
    maxEventBytes: env.MS_INGEST_MAX_EVENT_BYTES,
    requestTimeoutMs: env.MS_INGEST_REQUEST_TIMEOUT_MS,
  };
}
