import type { FastifyInstance } from 'fastify';
import { ClickHouse } from '@meterstream/clickhouse';
import { kafkaFromEnv } from '@meterstream/config';
import {
  createKafkaClient,
  createSchemaRegistry,
  ensureTopic,
  toKafkaError,
  type KafkaProducer,
  withAdmin,
} from '@meterstream/kafka';
import { Metrics, type Logger, type ServiceHandle } from '@meterstream/observability';
import { loadPlans, type PlanCatalog } from '@meterstream/plans';
import { MINUTE_MS } from '@meterstream/runtime';
import { loadUsers } from './auth.js';
import { ClickHouseData } from './clickhouse-data.js';
import type { ConsoleEnv } from './env.js';
import { KafkaSubmissionGateway } from './gateway.js';
import { migrateConsole } from './migrations.js';
import type { User } from './model.js';
import { buildConsole } from './server.js';

/** A running console; `close()` is idempotent. */
export interface ConsoleHandle extends ServiceHandle {
  url: string;
  port: number;
  app: FastifyInstance;
  metrics: Metrics;
}

/** Collaborators of {@link startConsole} (tests pass their own users, plans, metrics, clock). */
export interface ConsoleStartDeps {
  logger: Logger;
  metrics?: Metrics;
  users?: readonly User[];
  catalog?: PlanCatalog;
  /** The clock that decides the hour a manual entry meters (tests pass their own). */
  now?: () => Date;
}

/** Resources to release, last opened first. */
class Closers {
  private readonly list: (() => Promise<void>)[] = [];
  constructor(private readonly logger: Logger) {}
  add(close: () => Promise<void>): void {
    this.list.push(close);
  }
  async closeAll(): Promise<void> {
    for (const c of this.list.reverse())
      await c().catch((err: unknown) => this.logger.error({ err }, 'close failed'));
  }
}

/** The usage topic (created when missing) and an idempotent producer to it. */
async function connectProducer(env: ConsoleEnv, logger: Logger): Promise<KafkaProducer> {
  const kafka = createKafkaClient({ ...kafkaFromEnv(env, 'console'), logger });
  await withAdmin(kafka, (admin) =>
    ensureTopic(admin, {
      topic: env.MS_USAGE_TOPIC,
      partitions: env.MS_USAGE_TOPIC_PARTITIONS,
      replicationFactor: env.MS_USAGE_TOPIC_REPLICATION,
    }),
  );
  // Idempotent, one request in flight: usage then its FreezeCommand stay in order on a partition.
  // The Java-compatible partitioner, as ingest uses: one customer's usage from every producer
  // lands on the same partition, whatever produced it.
  const producer = kafka.producer();
  try {
    await producer.connect();
  } catch (err) {
    throw toKafkaError(err, 'connect producer');
  }
  return producer;
}

/** ClickHouse with the console's migration applied. */
async function openClickHouse(env: ConsoleEnv, logger: Logger, closers: Closers) {
  const ch = new ClickHouse({
    url: env.MS_CLICKHOUSE_URL,
    user: env.MS_CLICKHOUSE_USER,
    password: env.MS_CLICKHOUSE_PASSWORD,
    // No default database: every statement names it, and the migration may have to create it.
    application: 'meterstream-console',
  });
  closers.add(() => ch.close());
  const topology =
    env.MS_CLICKHOUSE_TOPOLOGY === 'cluster'
      ? ({ kind: 'cluster', cluster: env.MS_CLICKHOUSE_CLUSTER } as const)
      : ({ kind: 'single' } as const);
  await migrateConsole(ch, env.MS_CLICKHOUSE_DATABASE, topology, logger);
  return ch;
}

/**
 * Starts the console with its real dependencies: ClickHouse (its migration, then reads of the
 * other services' tables), an idempotent Kafka producer and the schema registry (the submission
 * path), and the submitter control API. Resolves once it listens.
 */
export async function startConsole(
  env: ConsoleEnv,
  deps: ConsoleStartDeps,
): Promise<ConsoleHandle> {
  const { logger } = deps;
  if (env.MS_CONSOLE_DEV)
    logger.warn('development mode: built-in session secret and non-Secure cookies');
  const metrics = deps.metrics ?? new Metrics('meterstream_console');
  const users = deps.users ?? (await loadUsers(env.MS_CONSOLE_USERS_FILE));
  const catalog = deps.catalog ?? (await loadPlans(env.MS_CONSOLE_PLANS_DIR));
  const closers = new Closers(logger);
  try {
    const ch = await openClickHouse(env, logger, closers);
    const producer = await connectProducer(env, logger);
    closers.add(() => producer.disconnect());
    const gateway = new KafkaSubmissionGateway({
      producer,
      registry: createSchemaRegistry(env.MS_SCHEMA_REGISTRY_URL),
      topic: env.MS_USAGE_TOPIC,
      submitterUrl: env.MS_SUBMITTER_URL,
      ch,
      database: env.MS_CLICKHOUSE_DATABASE,
      logger,
    });
    closers.add(() => gateway.close());
    const app = await buildConsole({
      users,
      catalog,
      data: new ClickHouseData(ch, env.MS_CLICKHOUSE_DATABASE, env.MS_CONSOLE_AUDIT_TABLE),
      gateway,
      logger,
      metrics,
      sessionSecret: env.sessionSecret,
      secureCookies: env.secureCookies,
      sessionTtlMs: env.MS_CONSOLE_SESSION_TTL_MINUTES * MINUTE_MS,
      ...(deps.now ? { now: deps.now } : {}),
    });
    closers.add(() => app.close());
    await app.listen({ port: env.MS_CONSOLE_PORT, host: env.MS_CONSOLE_HOST });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : env.MS_CONSOLE_PORT;
    const url = `http://${env.MS_CONSOLE_HOST === '0.0.0.0' ? '127.0.0.1' : env.MS_CONSOLE_HOST}:${port}`;
    logger.info({ url, users: users.length, products: catalog.plans.length }, 'console listening');
    let closing: Promise<void> | undefined;
    return {
      url,
      port,
      app,
      metrics,
      ready: Promise.resolve(),
      close: () => (closing ??= closers.closeAll()),
    };
  } catch (err) {
    await closers.closeAll();
    throw err;
  }
}
