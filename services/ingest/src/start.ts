import type { FastifyInstance } from 'fastify';
import { MeterstreamError } from '@meterstream/errors';
import {
  ensureTopic,
  registerAvro,
  toKafkaError,
  toRegistryError,
  type KafkaAdmin,
  type KafkaClient,
  type SchemaRegistry,
} from '@meterstream/kafka';
import type { Logger, Metrics, ServiceHandle } from '@meterstream/observability';
import { USAGE_EVENT_AVRO, usageEventSubject, type UsageEvent } from '@meterstream/schemas';
import { wireEncoder, type AvroType } from './encoder.js';
import { ingestServerConfig, type IngestEnv } from './env.js';
import { KeyStore } from './keys.js';
import { ingestMetrics, produceObserver } from './metrics.js';
import type { PlanLookup } from './plans.js';
import { buildServer } from './server.js';
import { KafkaSink } from './sink.js';

/** Collaborators of {@link startIngest}; `main.ts` builds them from the environment, tests from the test stack. */
export interface IngestDeps {
  logger: Logger;
  metrics: Metrics;
  /** The Kafka client (either implementation, `MS_KAFKA_CLIENT`). */
  kafka: KafkaClient;
  registry: SchemaRegistry;
  plans: PlanLookup;
  /** Defaults to a {@link KeyStore} on `env.MS_INGEST_KEYS_FILE`. */
  keys?: KeyStore;
  /** Epoch ms; tests pin the clock. */
  now?: () => number;
}

/**
 * A running ingest service (listening once started: `ready` is resolved); `close()` drains
 * in-flight requests and is idempotent.
 */
export interface IngestHandle extends ServiceHandle {
  port: number;
  url: string;
  server: FastifyInstance;
  sink: KafkaSink;
  schemaId: number;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e: unknown) => (clearTimeout(t), reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}

/** The API keys: the given store, or the key file, watched for changes. */
async function loadKeys(env: IngestEnv, deps: IngestDeps, log: Logger): Promise<KeyStore> {
  let keys = deps.keys;
  if (!keys) {
    keys = new KeyStore(env.MS_INGEST_KEYS_FILE);
    await keys.load();
    keys.watch(env.MS_INGEST_KEYS_RELOAD_MS, (err) =>
      log.error({ err }, 'key file reload failed; keeping the last good keys'),
    );
  }
  if (keys.size === 0)
    log.warn(
      { file: env.MS_INGEST_KEYS_FILE },
      'no API keys: every request will get 401 (create one with `meterstream keys create`)',
    );
  return keys;
}

/** Registers the usage event schema; returns its id and the encoder to the wire format. */
async function usageEncoder(
  registry: SchemaRegistry,
  topic: string,
): Promise<{ schemaId: number; encode: (ev: UsageEvent) => Buffer }> {
  const schemaId = await registerAvro(registry, usageEventSubject(topic), USAGE_EVENT_AVRO);
  let avro: AvroType;
  try {
    avro = (await registry.getSchema(schemaId)) as unknown as AvroType;
  } catch (err) {
    throw toRegistryError(err, 'get schema');
  }
  return { schemaId, encode: wireEncoder(schemaId, avro) };
}

/** The sink of accepted events: idempotent producers (acks=all), replaced after a failed send. */
function createSink(env: IngestEnv, deps: IngestDeps, onSendOk: (ok: boolean) => void): KafkaSink {
  // Java-compatible murmur2 on the key (the interface's partitioner): the same partition as any
  // other producer of ADR 0001 keys. Bounded retries: a request must get its answer (503) while
  // the client still waits. The sink replaces the producer after a failed send (new producer id),
  // which keeps the idempotence guarantee that unbounded retries would otherwise be needed for.
  const newProducer = () =>
    deps.kafka.producer({ retry: { retries: 5, initialRetryTimeMs: 100, maxRetryTimeMs: 2_000 } });
  const observe = produceObserver(deps.metrics);
  return new KafkaSink(newProducer, {
    topic: env.MS_USAGE_TOPIC,
    maxInFlightEvents: env.MS_INGEST_MAX_INFLIGHT_EVENTS,
    maxSendBytes: env.MS_INGEST_MAX_SEND_BYTES,
    timeoutMs: env.MS_INGEST_PRODUCE_TIMEOUT_MS,
    lingerMs: env.MS_INGEST_LINGER_MS,
    onReset: () => ingestMetrics(deps.metrics).producerResets.inc(),
    onSend: (s, n, ok) => {
      onSendOk(ok);
      observe(s, n, ok);
    },
  });
}

/**
 * Readiness (for /readyz): Kafka and the registry answer, and the last send succeeded. Probed at
 * most every 5 s: /readyz must stay cheap under frequent polling.
 */
function readiness(admin: KafkaAdmin, registry: SchemaRegistry, topic: string, log: Logger) {
  let probe: { at: number; ok: boolean } = { at: 0, ok: true };
  let lastSendOk = true;
  const ready = async (): Promise<boolean> => {
    if (Date.now() - probe.at < 5_000) return probe.ok && lastSendOk;
    let ok = true;
    try {
      await withTimeout(admin.describeCluster(), 2_000);
      await withTimeout(registry.getLatestSchemaId(usageEventSubject(topic)), 2_000);
    } catch (err) {
      log.warn(
        { err: err instanceof MeterstreamError ? err : String(err) },
        'readiness probe failed',
      );
      ok = false;
    }
    probe = { at: Date.now(), ok };
    if (ok) lastSendOk = true;
    return ok && lastSendOk;
  };
  return { ready, sent: (ok: boolean) => (lastSendOk = ok) };
}

/** Close steps, run last-first; a failing step is logged and the others still run. */
class Closers {
  private readonly steps: (() => Promise<void>)[] = [];
  private closing: Promise<void> | undefined;
  constructor(private readonly log: Logger) {}
  add(step: () => Promise<void>): void {
    this.steps.push(step);
  }
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      for (const c of this.steps.splice(0).reverse()) {
        try {
          await c();
        } catch (err) {
          this.log.warn({ err }, 'close step failed');
        }
      }
    })());
  }
}

/**
 * Starts ingest: loads the API keys, ensures the topic, registers the Avro schema, connects the
 * idempotent producer (acks=all) and listens. Fails fast when Kafka or the registry is down at
 * start (the orchestrator restarts it); later outages only make requests answer 503.
 */
export async function startIngest(env: IngestEnv, deps: IngestDeps): Promise<IngestHandle> {
  const log = deps.logger.child({ module: 'ingest' });
  const topic = env.MS_USAGE_TOPIC;
  const keys = await loadKeys(env, deps, log);
  const admin = deps.kafka.admin();
  const closers = new Closers(log);
  try {
    try {
      await admin.connect();
      closers.add(() => admin.disconnect());
      if (env.MS_INGEST_CREATE_TOPIC) {
        await ensureTopic(admin, {
          topic,
          partitions: env.MS_USAGE_TOPIC_PARTITIONS,
          replicationFactor: env.MS_USAGE_TOPIC_REPLICATION,
        });
      }
    } catch (err) {
      throw toKafkaError(err, 'connect');
    }
    const { schemaId, encode } = await usageEncoder(deps.registry, topic);
    const probe = readiness(admin, deps.registry, topic, log);
    const sink = createSink(env, deps, probe.sent);
    try {
      await sink.start();
    } catch (err) {
      throw toKafkaError(err, 'connect producer');
    }
    closers.add(() => sink.close());
    const server = buildServer({
      logger: deps.logger,
      metrics: deps.metrics,
      config: ingestServerConfig(env),
      keys,
      plans: deps.plans,
      sink,
      encode,
      ready: probe.ready,
      ...(deps.now ? { now: deps.now } : {}),
    });
    closers.add(async () => {
      keys.close();
      // Stops accepting, answers requests already received (their events reach Kafka first).
      log.debug('closing http server');
      await server.close();
      log.debug('http server closed; draining');
      await sink.drained();
      log.debug('drained');
    });
    await server.listen({ host: env.MS_INGEST_HOST, port: env.MS_INGEST_PORT });
    const address = server.server.address();
    const port =
      typeof address === 'object' && address !== null ? address.port : env.MS_INGEST_PORT;
    log.info({ port, topic, schemaId }, 'ingest listening');
    return {
      port,
      url: `http://127.0.0.1:${port}`,
      server,
      sink,
      schemaId,
      ready: Promise.resolve(),
      close: () => closers.close(),
    };
  } catch (err) {
    await closers.close();
    throw err;
  }
}
