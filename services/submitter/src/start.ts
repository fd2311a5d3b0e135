import { hostname } from 'node:os';
import { ClickHouse, migrate } from '@meterstream/clickhouse';
import { kafkaFromEnv } from '@meterstream/config';
import { checkTopicPartitions, createKafkaClient, withAdmin } from '@meterstream/kafka';
import {
  Metrics,
  startOpsServer,
  type Logger,
  type ServiceHandle,
} from '@meterstream/observability';
import type { PlanCatalog } from '@meterstream/plans';
import { awsConfigFromEnv, entitlementClient, meteringClient } from './aws.js';
import { controlRoutes } from './control.js';
import { missingEntitlementSync } from './entitlements.js';
import { quotaLimiter } from './limiter.js';
import type { SubmitterEnv } from './env.js';
import { VersionClock } from './ledger.js';
import { submitterMetrics, type SubmitterMetrics } from './metrics.js';
import { SUBMITTER_MIGRATIONS } from './migrations.js';
import { Notifier, notifyConfigFromEnv } from './notify.js';
import { KafkaOwnership, StaticOwnership, type Ownership } from './ownership.js';
import { PlanSource } from './plans.js';
import { RunQueue, executeRun, type RunInfo } from './runs.js';
import { Store } from './store.js';

/** Collaborators of {@link startSubmitter}; tests inject their own. */
export interface SubmitterDeps {
  logger: Logger;
  metrics?: Metrics;
  plans?: PlanCatalog;
  ownership?: Ownership;
  now?: () => number;
}

/** A running submitter. */
export interface SubmitterHandle extends ServiceHandle {
  instanceId: string;
  opsPort: number;
  metrics: Metrics;
  store: Store;
  /** Runs one submission now (serialized with the ticks) and returns its report. */
  runNow(): Promise<RunInfo>;
  /** Waits for notices in flight. */
  drainNotifications(): Promise<void>;
}

/** The former name of {@link SubmitterHandle}. */
export type RunningSubmitter = SubmitterHandle;

/**
 * An hour is frozen topic-wide when `window_freezes` has MS_USAGE_TOPIC_PARTITIONS partitions: a
 * count below the topic's real one would freeze hours (and bill keys) before the other
 * partitions' windows exist, so refuse to start on any mismatch (issue 13). The topic is created
 * by ingest or the aggregator; a missing one is waited for briefly.
 */
async function checkUsageTopic(config: SubmitterEnv, logger: Logger): Promise<void> {
  const kafka = createKafkaClient({ ...kafkaFromEnv(config, 'submitter-check'), logger });
  await withAdmin(kafka, (admin) =>
    checkTopicPartitions(admin, config.MS_USAGE_TOPIC, config.MS_USAGE_TOPIC_PARTITIONS, {
      waitMs: 60_000,
    }),
  );
}

/** Injected plans (tests) are fixed; plans from MS_PLANS_DIR are re-read when the files change. */
async function plansSource(
  config: SubmitterEnv,
  deps: SubmitterDeps,
  m: SubmitterMetrics,
  logger: Logger,
): Promise<() => Promise<PlanCatalog>> {
  const fixed = deps.plans;
  if (fixed) return () => Promise.resolve(fixed);
  const source = await PlanSource.open(config.MS_PLANS_DIR, m, logger.child({ module: 'plans' }));
  return () => source.refresh();
}

/** The ClickHouse client of the submitter, its tables migrated. */
async function openClickHouse(config: SubmitterEnv, logger: Logger): Promise<ClickHouse> {
  const ch = new ClickHouse({
    url: config.MS_CLICKHOUSE_URL,
    user: config.MS_CLICKHOUSE_USER,
    password: config.MS_CLICKHOUSE_PASSWORD,
    database: config.MS_CLICKHOUSE_DATABASE,
    application: 'meterstream-submitter',
  });
  const topology =
    config.MS_CLICKHOUSE_TOPOLOGY === 'cluster'
      ? ({ kind: 'cluster', cluster: config.MS_CLICKHOUSE_CLUSTER } as const)
      : ({ kind: 'single' } as const);
  const target = { database: config.MS_CLICKHOUSE_DATABASE, topology };
  await migrate(ch, 'submitter', SUBMITTER_MIGRATIONS, target, logger);
  return ch;
}

/** Which key buckets this instance owns: all of them (static), or through the Kafka group. */
function ownershipOf(config: SubmitterEnv, instanceId: string, logger: Logger): Ownership {
  if (config.MS_SUBMITTER_OWNERSHIP === 'static')
    return new StaticOwnership(config.MS_SUBMITTER_WORK_PARTITIONS);
  return new KafkaOwnership(
    {
      ...kafkaFromEnv(config, `submitter-${instanceId}`),
      topic: config.MS_SUBMITTER_WORK_TOPIC,
      partitions: config.MS_SUBMITTER_WORK_PARTITIONS,
      groupId: config.MS_SUBMITTER_GROUP_ID,
      sessionTimeoutMs: config.MS_SUBMITTER_SESSION_TIMEOUT_MS,
      handoverMs: config.MS_SUBMITTER_HANDOVER_MS,
    },
    logger.child({ module: 'ownership' }),
  );
}

/**
 * Starts the submitter: migrations, ownership, the tick loop, and the ops server with the control
 * API. `ready` has resolved when this resolves: the submitter takes runs from then on.
 */
export async function startSubmitter(
  config: SubmitterEnv,
  deps: SubmitterDeps,
): Promise<SubmitterHandle> {
  const logger = deps.logger.child({ module: 'submitter' });
  const offsetMs = config.MS_SUBMITTER_CLOCK_OFFSET_MS;
  const now = deps.now ?? (offsetMs === 0 ? Date.now : () => Date.now() + offsetMs);
  const instanceId = config.MS_SUBMITTER_INSTANCE_ID || `${hostname()}-${process.pid}`;
  const metrics = deps.metrics ?? new Metrics('meterstream_submitter');
  const m = submitterMetrics(metrics);
  const plans = await plansSource(config, deps, m, logger);
  await checkUsageTopic(config, logger);
  const ch = await openClickHouse(config, logger);
  const store = new Store(ch, config.MS_CLICKHOUSE_DATABASE);
  const ownership = deps.ownership ?? ownershipOf(config, instanceId, logger);
  await ownership.start();
  const client = meteringClient(awsConfigFromEnv(config));
  const entitlements = entitlementClient(awsConfigFromEnv(config));
  const syncMissing = missingEntitlementSync({
    store,
    client: entitlements,
    fetch: {
      backoffBaseMs: config.MS_SUBMITTER_BACKOFF_BASE_MS,
      backoffMaxMs: config.MS_SUBMITTER_BACKOFF_MAX_MS,
      maxAttempts: config.MS_SUBMITTER_MAX_ATTEMPTS_PER_RUN,
    },
    minIntervalMs: config.MS_SUBMITTER_ENTITLEMENT_SYNC_MIN_INTERVAL_MS,
    now,
    metrics: m,
    logger,
  });
  const notifier = new Notifier(notifyConfigFromEnv(config), m, logger.child({ module: 'notify' }));
  let closed = false;
  const ctx = {
    config,
    store,
    client,
    ownership,
    clock: new VersionClock(now),
    metrics: m,
    logger,
    notifier,
    instanceId,
    now,
    plans,
    syncMissing,
    stopping: () => closed,
    limiter: quotaLimiter(config.MS_SUBMITTER_AWS_RPS, ownership, now, m),
  };
  const runs = new RunQueue(instanceId, now, (info) => executeRun(ctx, info));
  const ops = await startOpsServer({
    port: config.MS_SUBMITTER_OPS_PORT,
    host: config.MS_SUBMITTER_OPS_HOST,
    metrics,
    logger: logger.child({ module: 'ops' }),
    ready: async () => !closed && ownership.ready() && (await ch.ping()),
    routes: controlRoutes({
      runs,
      ledgerByRun: (runId) => store.ledgerByRun(runId),
      closed: () => closed,
      logger,
    }),
  });
  logger.info({ instanceId, opsPort: ops.port }, 'submitter started');

  let timer: NodeJS.Timeout | undefined;
  const tick = (): void => {
    if (closed) return;
    void runs.schedule('tick').done.finally(() => {
      if (!closed) timer = setTimeout(tick, config.MS_SUBMITTER_TICK_MS);
    });
  };
  if (config.MS_SUBMITTER_TICK_MS > 0) tick();

  let closing: Promise<void> | undefined;
  return {
    ready: Promise.resolve(),
    instanceId,
    opsPort: ops.port,
    metrics,
    store,
    runNow: () => runs.schedule('api').done,
    drainNotifications: () => notifier.drain(),
    close: () =>
      (closing ??= (async () => {
        closed = true;
        if (timer) clearTimeout(timer);
        await runs.idle();
        await ownership.close();
        await ops.close();
        await notifier.drain();
        notifier.close();
        client.destroy();
        entitlements.destroy();
        await ch.close();
      })()),
  };
}
