import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { ClickHouse, migrate } from '@meterstream/clickhouse';
import { toMeterstreamError } from '@meterstream/errors';
import { checkTopicPartitions, createKafka } from '@meterstream/kafka';
import { Metrics, type Logger } from '@meterstream/observability';
import type { PlanCatalog } from '@meterstream/plans';
import { entitlementClient, meteringClient } from './aws.js';
import { syncEntitlements } from './entitlements.js';
import type { SubmitterEnv } from './env.js';
import {
  OPEN_STATES,
  VersionClock,
  heldReasonOf,
  isTerminal,
  recordKey,
  type LedgerRecord,
} from './ledger.js';
import { submitterMetrics, type SubmitterMetrics } from './metrics.js';
import { Notifier } from './notify.js';
import { KafkaOwnership, StaticOwnership, type Ownership } from './ownership.js';
import { freeze, type FreezeResult } from './planner.js';
import { PlanSource } from './plans.js';
import { SUBMITTER_MIGRATIONS } from './schema.js';
import { sendOpen } from './sender.js';
import { Store } from './store.js';

const HOUR_MS = 3_600_000;

/** Optional collaborators (tests inject their own). */
export interface SubmitterDeps {
  logger: Logger;
  metrics?: Metrics;
  plans?: PlanCatalog;
  ownership?: Ownership;
  now?: () => number;
}

/** A submission run as the control API reports it. */
export interface RunInfo {
  id: string;
  trigger: 'tick' | 'api';
  status: 'queued' | 'running' | 'done' | 'failed';
  startedAt?: string;
  finishedAt?: string;
  frozen?: number;
  deferred?: number;
  finished?: number;
  error?: string;
}

/** A running submitter. */
export interface RunningSubmitter {
  instanceId: string;
  opsPort: number;
  metrics: Metrics;
  store: Store;
  /** Runs one submission now (serialized with the ticks) and returns its report. */
  runNow(): Promise<RunInfo>;
  /** Waits for notices in flight. */
  drainNotifications(): Promise<void>;
  close(): Promise<void>;
}

/**
 * An hour is frozen topic-wide when `window_freezes` has MS_USAGE_TOPIC_PARTITIONS partitions: a
 * count below the topic's real one would freeze hours (and bill keys) before the other
 * partitions' windows exist, so refuse to start on any mismatch (issue 13). The topic is created
 * by ingest or the aggregator; a missing one is waited for briefly.
 */
async function checkUsageTopic(config: SubmitterEnv, logger: Logger): Promise<void> {
  const kafka = createKafka({
    brokers: config.MS_KAFKA_BROKERS,
    clientId: `${config.MS_KAFKA_CLIENT_ID}-submitter-check`,
    logger,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await checkTopicPartitions(admin, config.MS_USAGE_TOPIC, config.MS_USAGE_TOPIC_PARTITIONS, {
      waitMs: 60_000,
    });
  } finally {
    await admin.disconnect();
  }
}

/** Starts the submitter: migrations, ownership, the tick loop, the ops server and control API. */
export async function startSubmitter(
  config: SubmitterEnv,
  deps: SubmitterDeps,
): Promise<RunningSubmitter> {
  const logger = deps.logger.child({ module: 'submitter' });
  const offsetMs = config.MS_SUBMITTER_CLOCK_OFFSET_MS;
  const now = deps.now ?? (offsetMs === 0 ? Date.now : () => Date.now() + offsetMs);
  const instanceId = config.MS_SUBMITTER_INSTANCE_ID || `${hostname()}-${process.pid}`;
  const metrics = deps.metrics ?? new Metrics('meterstream_submitter');
  const m: SubmitterMetrics = submitterMetrics(metrics);
  // Injected plans (tests) are fixed; plans from MS_PLANS_DIR are re-read when the files change.
  let plansNow: () => Promise<PlanCatalog>;
  if (deps.plans) {
    const fixed = deps.plans;
    plansNow = () => Promise.resolve(fixed);
  } else {
    const source = await PlanSource.open(config.MS_PLANS_DIR, m, logger.child({ module: 'plans' }));
    plansNow = () => source.refresh();
  }
  await checkUsageTopic(config, logger);
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
  await migrate(
    ch,
    'submitter',
    SUBMITTER_MIGRATIONS,
    { database: config.MS_CLICKHOUSE_DATABASE, topology },
    logger,
  );
  const store = new Store(ch, config.MS_CLICKHOUSE_DATABASE);
  const ownership =
    deps.ownership ??
    (config.MS_SUBMITTER_OWNERSHIP === 'static'
      ? new StaticOwnership(config.MS_SUBMITTER_WORK_PARTITIONS)
      : new KafkaOwnership(
          {
            brokers: config.MS_KAFKA_BROKERS,
            clientId: `${config.MS_KAFKA_CLIENT_ID}-submitter-${instanceId}`,
            topic: config.MS_SUBMITTER_WORK_TOPIC,
            partitions: config.MS_SUBMITTER_WORK_PARTITIONS,
            groupId: config.MS_SUBMITTER_GROUP_ID,
            sessionTimeoutMs: config.MS_SUBMITTER_SESSION_TIMEOUT_MS,
            handoverMs: config.MS_SUBMITTER_HANDOVER_MS,
          },
          logger.child({ module: 'ownership' }),
        ));
  await ownership.start();
  const client = meteringClient({
    endpoint: config.MS_AWS_ENDPOINT,
    region: config.MS_AWS_REGION,
    accessKeyId: config.MS_AWS_ACCESS_KEY_ID,
    secretAccessKey: config.MS_AWS_SECRET_ACCESS_KEY,
    timeoutMs: config.MS_AWS_TIMEOUT_MS,
  });
  const entitlements = entitlementClient({
    endpoint: config.MS_AWS_ENDPOINT,
    region: config.MS_AWS_REGION,
    accessKeyId: config.MS_AWS_ACCESS_KEY_ID,
    secretAccessKey: config.MS_AWS_SECRET_ACCESS_KEY,
    timeoutMs: config.MS_AWS_TIMEOUT_MS,
  });
  /** When this instance last synced each product's entitlements (its own clock). */
  const lastSync = new Map<string, number>();
  /**
   * Usage held for a missing entitlement triggers a GetEntitlements sync of its product, at most
   * once per MS_SUBMITTER_ENTITLEMENT_SYNC_MIN_INTERVAL_MS per product. A failed sync is logged and
   * counted; the records stay held and the next due run tries again. Returns the terms written.
   */
  const syncMissing = async (products: readonly string[], runId: string): Promise<number> => {
    const at = now();
    const due = products.filter(
      (p) =>
        at - (lastSync.get(p) ?? -Infinity) >= config.MS_SUBMITTER_ENTITLEMENT_SYNC_MIN_INTERVAL_MS,
    );
    let terms = 0;
    for (const p of due) {
      lastSync.set(p, at);
      try {
        const [r] = await syncEntitlements(
          {
            store,
            client: entitlements,
            fetch: {
              backoffBaseMs: config.MS_SUBMITTER_BACKOFF_BASE_MS,
              backoffMaxMs: config.MS_SUBMITTER_BACKOFF_MAX_MS,
              maxAttempts: config.MS_SUBMITTER_MAX_ATTEMPTS_PER_RUN,
            },
          },
          [p],
          at,
        );
        terms += r?.terms ?? 0;
        m.entitlementSyncs.inc({ outcome: 'ok' });
        logger.info(
          { runId, product: p, entitlements: r?.entitlements ?? 0, terms: r?.terms ?? 0 },
          'entitlements synced for usage held without an entitlement',
        );
      } catch (err) {
        m.entitlementSyncs.inc({ outcome: 'failed' });
        logger.warn(
          { err: toMeterstreamError(err).toJSON(), runId, product: p },
          'entitlement sync failed; the usage stays held',
        );
      }
    }
    return terms;
  };
  const notifier = new Notifier(
    {
      smtp: config.MS_SMTP_HOST
        ? {
            host: config.MS_SMTP_HOST,
            port: config.MS_SMTP_PORT,
            secure: config.MS_SMTP_SECURE,
            user: config.MS_SMTP_USER,
            password: config.MS_SMTP_PASSWORD,
            from: config.MS_SMTP_FROM,
          }
        : undefined,
      slackEnabled: config.MS_SLACK_ENABLED,
      attempts: config.MS_NOTIFY_ATTEMPTS,
      timeoutMs: config.MS_NOTIFY_TIMEOUT_MS,
      extraEmails: config.MS_NOTIFY_EXTRA_EMAILS.split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    },
    m,
    logger.child({ module: 'notify' }),
  );
  const clock = new VersionClock(now);
  const runs = new Map<string, RunInfo>();
  let seq = 0;
  let chain: Promise<unknown> = Promise.resolve();
  let closed = false;

  const execute = async (info: RunInfo): Promise<RunInfo> => {
    const started = performance.now();
    info.status = 'running';
    info.startedAt = new Date(now()).toISOString();
    try {
      // A plan fix (a dimension added, a plan created) applies from this run on: held records
      // `no_plan` / `dimension_not_in_plan` are sent without a restart (ADR 0006).
      const plans = await plansNow();
      const owned = ownership.sendable();
      const at = now();
      const freezeNow = (): Promise<FreezeResult> =>
        freeze(
          {
            store,
            plans,
            clock,
            usagePartitions: config.MS_USAGE_TOPIC_PARTITIONS,
            workPartitions: config.MS_SUBMITTER_WORK_PARTITIONS,
            owned,
            lookbackHours: config.MS_SUBMITTER_LOOKBACK_HOURS,
            runId: info.id,
            instanceId,
          },
          at,
        );
      let f = await freezeNow();
      // A sync that brought terms lets the same run plan what it just held (ADR 0006).
      if (
        f.missingEntitlements.length > 0 &&
        (await syncMissing(f.missingEntitlements, info.id)) > 0
      ) {
        const g = await freezeNow();
        const latest = new Map<string, LedgerRecord>();
        for (const r of [...f.frozen, ...g.frozen]) latest.set(recordKey(r), r);
        f = { ...g, frozen: [...latest.values()], deferred: g.deferred };
      }
      m.records.inc({ state: 'frozen' }, f.frozen.length);
      logger.debug(
        {
          runId: info.id,
          frozen: f.frozen.length,
          freezeMs: Math.round(performance.now() - started),
        },
        'freeze done',
      );
      const fromHour =
        Math.floor(at / HOUR_MS) * HOUR_MS - config.MS_SUBMITTER_LOOKBACK_HOURS * HOUR_MS;
      const open = owned.length > 0 ? await store.ledgerByState(OPEN_STATES, fromHour, owned) : [];
      const finished: LedgerRecord[] = await sendOpen(
        {
          config: {
            batchSize: config.MS_SUBMITTER_BATCH_SIZE,
            waveSize: config.MS_SUBMITTER_WAVE_SIZE,
            concurrency: config.MS_SUBMITTER_CONCURRENCY,
            maxAttemptsPerRun: config.MS_SUBMITTER_MAX_ATTEMPTS_PER_RUN,
            backoffBaseMs: config.MS_SUBMITTER_BACKOFF_BASE_MS,
            backoffMaxMs: config.MS_SUBMITTER_BACKOFF_MAX_MS,
            deadlineAlertMs: config.MS_SUBMITTER_DEADLINE_ALERT_MINUTES * 60_000,
          },
          store,
          client,
          plans,
          ownership,
          clock,
          metrics: m,
          logger,
          runId: info.id,
          instanceId,
          stopping: () => closed,
        },
        open,
        at,
      );
      const terminal = finished.filter((r) => isTerminal(r.state));
      // Held records are told once, when they become held (or held for another reason): a record
      // held by an account-level AWS error is sent and held again every run.
      const heldBefore = new Map(
        open.filter((r) => r.state === 'held').map((r) => [recordKey(r), heldReasonOf(r.reason)]),
      );
      const newlyHeld = [
        ...f.frozen.filter((r) => r.state === 'held'),
        ...finished.filter(
          (r) => r.state === 'held' && heldBefore.get(recordKey(r)) !== heldReasonOf(r.reason),
        ),
      ];
      notifier.notify(info.id, [...terminal, ...newlyHeld], (code) => plans.resolveProduct(code));
      info.frozen = f.frozen.length;
      info.deferred = f.deferred;
      info.finished = terminal.length;
      info.status = 'done';
      m.runs.inc({ outcome: 'ok' });
      if (f.frozen.length > 0 || finished.length > 0) {
        logger.info(
          {
            runId: info.id,
            frozen: f.frozen.length,
            sent: finished.length,
            terminal: terminal.length,
          },
          'run done',
        );
      }
    } catch (err) {
      const e = toMeterstreamError(err);
      info.status = 'failed';
      info.error = e.message;
      m.runs.inc({ outcome: 'failed' });
      logger.error({ err: e.toJSON(), runId: info.id }, 'run failed');
    } finally {
      info.finishedAt = new Date(now()).toISOString();
      m.runDuration.observe((performance.now() - started) / 1000);
    }
    return info;
  };

  const schedule = (trigger: RunInfo['trigger']): { info: RunInfo; done: Promise<RunInfo> } => {
    const info: RunInfo = {
      id: `${instanceId}-${now().toString(36)}-${++seq}-${randomBytes(2).toString('hex')}`,
      trigger,
      status: 'queued',
    };
    runs.set(info.id, info);
    if (runs.size > 500) runs.delete(runs.keys().next().value as string);
    const done = chain.then(() => execute(info));
    chain = done.catch(() => undefined);
    return { info, done };
  };

  let timer: NodeJS.Timeout | undefined;
  const tick = (): void => {
    if (closed) return;
    void schedule('tick').done.finally(() => {
      if (!closed) timer = setTimeout(tick, config.MS_SUBMITTER_TICK_MS);
    });
  };

  const reply = (
    res: ServerResponse,
    status: number,
    body: unknown,
    type = 'application/json',
  ): void => {
    res.writeHead(status, { 'content-type': type });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/metrics')
      return reply(res, 200, await metrics.text(), metrics.registry.contentType);
    if (path === '/healthz') return reply(res, 200, 'ok\n', 'text/plain');
    if (path === '/readyz') {
      const ok = !closed && ownership.ready() && (await ch.ping());
      return reply(res, ok ? 200 : 503, ok ? 'ready\n' : 'not ready\n', 'text/plain');
    }
    if (path === '/v1/run' && req.method === 'POST') {
      if (closed) return reply(res, 503, { error: 'shutting down' });
      const { info } = schedule('api');
      return reply(res, 202, { runId: info.id, status: info.status, href: `/v1/runs/${info.id}` });
    }
    const m2 = /^\/v1\/runs\/([A-Za-z0-9._-]{1,200})$/.exec(path);
    if (m2 && req.method === 'GET') {
      const info = runs.get(m2[1] as string);
      if (!info) return reply(res, 404, { error: 'unknown run' });
      const records =
        info.status === 'done' || info.status === 'failed' ? await store.ledgerByRun(info.id) : [];
      return reply(res, 200, {
        ...info,
        records: records.map((r) => ({
          productCode: r.productCode,
          customer: r.customer,
          dimension: r.dimension,
          hour: new Date(r.hour).toISOString(),
          quantity: r.quantity,
          state: r.state,
          awsStatus: r.awsStatus,
          reason: r.reason,
          meteringRecordId: r.meteringRecordId,
        })),
      });
    }
    return reply(res, 404, { error: 'not found' });
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger.warn({ err: toMeterstreamError(err).toJSON() }, 'ops request failed');
      if (!res.headersSent) reply(res, 500, { error: 'internal error' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.MS_SUBMITTER_OPS_PORT, config.MS_SUBMITTER_OPS_HOST, () => resolve());
  });
  const opsPort = (server.address() as AddressInfo).port;
  logger.info({ instanceId, opsPort }, 'submitter started');
  if (config.MS_SUBMITTER_TICK_MS > 0) tick();

  let closing: Promise<void> | undefined;
  return {
    instanceId,
    opsPort,
    metrics,
    store,
    runNow: () => schedule('api').done,
    drainNotifications: () => notifier.drain(),
    close: () =>
      (closing ??= (async () => {
        closed = true;
        if (timer) clearTimeout(timer);
        await chain;
        await ownership.close();
        await new Promise<void>((r) => {
          server.close(() => r());
          server.closeAllConnections();
        });
        await notifier.drain();
        notifier.close();
        client.destroy();
        entitlements.destroy();
        await ch.close();
      })()),
  };
}
