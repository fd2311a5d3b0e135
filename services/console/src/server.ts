import type { FastifyInstance } from 'fastify';
import { Partitioners } from 'kafkajs';
import { ClickHouse } from '@meterstream/clickhouse';
import {
  createKafka,
  createSchemaRegistry,
  ensureTopic,
  toKafkaError,
  type Producer,
} from '@meterstream/kafka';
import { Metrics, type Logger } from '@meterstream/observability';
import { loadPlans, type PlanCatalog } from '@meterstream/plans';
import { buildConsole } from './app.js';
import { loadUsers } from './auth.js';
import { ClickHouseData, migrateConsole } from './clickhouse-data.js';
import type { ConsoleEnv } from './env.js';
import { KafkaSubmissionGateway } from './gateway.js';
import type { User } from './model.js';

/** A running console; `close()` is idempotent. */
export interface RunningConsole {
  url: string;
  port: number;
  app: FastifyInstance;
  metrics: Metrics;
  close(): Promise<void>;
}

/** Optional collaborators (tests pass their own users, plans, metrics). */
export interface StartOptions {
  logger: Logger;
  metrics?: Metrics;
  users?: readonly User[];
  catalog?: PlanCatalog;
  /** The clock that decides the hour a manual entry meters (tests pass their own). */
  now?: () => Date;
}

/**
 * Starts the console with its real dependencies: ClickHouse (its migration, then reads of the
 * other services' tables), an idempotent Kafka producer and the schema registry (the submission
 * path), and the submitter control API.
 */
export async function startConsole(env: ConsoleEnv, o: StartOptions): Promise<RunningConsole> {
  const logger = o.logger;
  const metrics = o.metrics ?? new Metrics('meterstream_console');
  const users = o.users ?? (await loadUsers(env.MS_CONSOLE_USERS_FILE));
  const catalog = o.catalog ?? (await loadPlans(env.MS_CONSOLE_PLANS_DIR));
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.reverse())
      await c().catch((err: unknown) => logger.error({ err }, 'close failed'));
  };
  try {
    const ch = new ClickHouse({
      url: env.MS_CLICKHOUSE_URL,
      user: env.MS_CLICKHOUSE_USER,
      password: env.MS_CLICKHOUSE_PASSWORD,
      // No default database: every statement names it, and the migration may have to create it.
      application: 'meterstream-console',
    });
    closers.push(() => ch.close());
    const topology =
      env.MS_CLICKHOUSE_TOPOLOGY === 'cluster'
        ? ({ kind: 'cluster', cluster: env.MS_CLICKHOUSE_CLUSTER } as const)
        : ({ kind: 'single' } as const);
    await migrateConsole(ch, env.MS_CLICKHOUSE_DATABASE, topology, logger);

    const kafka = createKafka({
      brokers: env.MS_KAFKA_BROKERS,
      clientId: `${env.MS_KAFKA_CLIENT_ID}-console`,
      logger,
    });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopic(admin, {
        topic: env.MS_USAGE_TOPIC,
        partitions: env.MS_USAGE_TOPIC_PARTITIONS,
        replicationFactor: env.MS_USAGE_TOPIC_REPLICATION,
      });
    } finally {
      await admin.disconnect();
    }
    // Idempotent, one request in flight: usage then its FreezeCommand stay in order on a partition.
    // The Java-compatible partitioner, as ingest uses: one customer's usage from every producer
    // lands on the same partition, whatever produced it.
    const producer: Producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    try {
      await producer.connect();
    } catch (err) {
      throw toKafkaError(err, 'connect producer');
    }
    closers.push(() => producer.disconnect());
    const gateway = new KafkaSubmissionGateway({
      producer,
      registry: createSchemaRegistry(env.MS_SCHEMA_REGISTRY_URL),
      topic: env.MS_USAGE_TOPIC,
      submitterUrl: env.MS_SUBMITTER_URL,
      ch,
      database: env.MS_CLICKHOUSE_DATABASE,
      logger,
    });
    closers.push(() => gateway.close());
    const app = await buildConsole({
      users,
      catalog,
      data: new ClickHouseData(ch, env.MS_CLICKHOUSE_DATABASE, env.MS_CONSOLE_AUDIT_TABLE),
      gateway,
      logger,
      metrics,
      sessionSecret: env.sessionSecret,
      secureCookies: env.secureCookies,
      sessionTtlMs: env.MS_CONSOLE_SESSION_TTL_MINUTES * 60_000,
      ...(o.now ? { now: o.now } : {}),
    });
    closers.push(() => app.close());
    await app.listen({ port: env.MS_CONSOLE_PORT, host: env.MS_CONSOLE_HOST });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : env.MS_CONSOLE_PORT;
    const url = `http://${env.MS_CONSOLE_HOST === '0.0.0.0' ? '127.0.0.1' : env.MS_CONSOLE_HOST}:${port}`;
    logger.info({ url, users: users.length, products: catalog.plans.length }, 'console listening');
    let closing: Promise<void> | undefined;
    return { url, port, app, metrics, close: () => (closing ??= closeAll()) };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
