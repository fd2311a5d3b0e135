import type { FastifyInstance } from 'fastify';
import { MeterstreamError } from '@meterstream/errors';
import {
  ensureTopic,
  registerAvro,
  toKafkaError,
  toRegistryError,
  type Kafka,
  type Producer,
  type SchemaRegistry,
} from '@meterstream/kafka';
import type { Logger, Metrics } from '@meterstream/observability';
import { USAGE_EVENT_AVRO, usageEventSubject, type UsageEvent } from '@meterstream/schemas';
import type { IngestEnv } from './env.js';
import { KeyStore } from './keys.js';
import { CachingDefaultPartitioner } from './partitioner.js';
import type { PlanLookup } from './plans.js';
import { buildServer, ingestMetrics, produceObserver } from './server.js';
import { KafkaSink } from './sink.js';

/** What {@link startIngest} needs; `main.ts` builds it from the environment, tests from the test stack. */
export interface IngestOptions {
  env: IngestEnv;
  logger: Logger;
  metrics: Metrics;
  kafka: Kafka;
  registry: SchemaRegistry;
  plans: PlanLookup;
  /** Defaults to a {@link KeyStore} on `env.MS_INGEST_KEYS_FILE`. */
  keys?: KeyStore;
  /** Epoch ms; tests pin the clock. */
  now?: () => number;
}

/** A running ingest service; `close()` drains in-flight requests and is idempotent. */
export interface IngestHandle {
  port: number;
  url: string;
  server: FastifyInstance;
  sink: KafkaSink;
  schemaId: number;
  close(): Promise<void>;
}

/** Wire-format prefix: magic byte 0 and the 4-byte schema id. */
function wirePrefix(schemaId: number): Buffer {
  const b = Buffer.alloc(5);
  b.writeUInt8(0, 0);
  b.writeInt32BE(schemaId, 1);
  return b;
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

/**
 * Starts ingest: loads the API keys, ensures the topic, registers the Avro schema, connects the
 * idempotent producer (acks=all) and listens. Fails fast when Kafka or the registry is down at
 * start (the orchestrator restarts it); later outages only make requests answer 503.
 */
export async function startIngest(o: IngestOptions): Promise<IngestHandle> {
  const { env, logger } = o;
  const log = logger.child({ module: 'ingest' });
  const topic = env.MS_USAGE_TOPIC;
  const keys = o.keys ?? new KeyStore(env.MS_INGEST_KEYS_FILE);
  if (!o.keys) {
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

  const admin = o.kafka.admin();
  const newProducer = (): Producer =>
    o.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Java-compatible murmur2 on the key: the same partition as any other producer of ADR 0001 keys.
      createPartitioner: CachingDefaultPartitioner,
      // Bounded retries: a request must get its answer (503) while the client still waits. The
      // sink replaces the producer after a failed send (new producer id), which keeps the
      // idempotence guarantee that unbounded retries would otherwise be needed for.
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2_000 },
    });
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) {
      try {
        await c();
      } catch (err) {
        log.warn({ err }, 'close step failed');
      }
    }
  };
  try {
    try {
      await admin.connect();
      closers.push(() => admin.disconnect());
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
    const schemaId = await registerAvro(o.registry, usageEventSubject(topic), USAGE_EVENT_AVRO);
    let avro: { toBuffer(v: unknown): Buffer };
    try {
      avro = (await o.registry.getSchema(schemaId)) as unknown as { toBuffer(v: unknown): Buffer };
    } catch (err) {
      throw toRegistryError(err, 'get schema');
    }
    const prefix = wirePrefix(schemaId);
    const encode = (ev: UsageEvent): Buffer => Buffer.concat([prefix, avro.toBuffer(ev)]);

    let lastSendOk = true;
    const observe = produceObserver(o.metrics);
    const sink = new KafkaSink(newProducer, {
      topic,
      maxInFlightEvents: env.MS_INGEST_MAX_INFLIGHT_EVENTS,
      maxSendBytes: env.MS_INGEST_MAX_SEND_BYTES,
      timeoutMs: env.MS_INGEST_PRODUCE_TIMEOUT_MS,
      lingerMs: env.MS_INGEST_LINGER_MS,
      onReset: () => ingestMetrics(o.metrics).producerResets.inc(),
      onSend: (s, n, ok) => {
        lastSendOk = ok;
        observe(s, n, ok);
      },
    });

    try {
      await sink.start();
    } catch (err) {
      throw toKafkaError(err, 'connect producer');
    }
    closers.push(() => sink.close());

    // Readiness is probed at most every 5 s: /readyz must stay cheap under frequent polling.
    let probe: { at: number; ok: boolean } = { at: 0, ok: true };
    const ready = async (): Promise<boolean> => {
      if (Date.now() - probe.at < 5_000) return probe.ok && lastSendOk;
      let ok = true;
      try {
        await withTimeout(admin.describeCluster(), 2_000);
        await withTimeout(o.registry.getLatestSchemaId(usageEventSubject(topic)), 2_000);
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

    const server = buildServer({
      logger,
      metrics: o.metrics,
      config: {
        bodyLimitBytes: env.MS_INGEST_BODY_LIMIT_BYTES,
        maxEventsPerRequest: env.MS_INGEST_MAX_EVENTS_PER_REQUEST,
        maxEventAgeMs: env.MS_INGEST_MAX_EVENT_AGE_MS,
        maxEventSkewMs: env.MS_INGEST_MAX_EVENT_SKEW_MS,
        retryAfterSeconds: env.MS_INGEST_RETRY_AFTER_S,
        maxEventBytes: env.MS_INGEST_MAX_EVENT_BYTES,
        requestTimeoutMs: env.MS_INGEST_REQUEST_TIMEOUT_MS,
      },
      keys,
      plans: o.plans,
      sink,
      encode,
      ready,
      ...(o.now ? { now: o.now } : {}),
    });
    closers.push(async () => {
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
    let closing: Promise<void> | undefined;
    return {
      port,
      url: `http://127.0.0.1:${port}`,
      server,
      sink,
      schemaId,
      close: () => (closing ??= close()),
    };
  } catch (err) {
    await close();
    throw err;
  }
}
