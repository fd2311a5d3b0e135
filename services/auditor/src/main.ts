import { ClickHouse } from '@meterstream/clickhouse';
import { isEntryPoint } from '@meterstream/config';
import { toMeterstreamError } from '@meterstream/errors';
import { Lifecycle, Metrics, createLogger, startOpsServer } from '@meterstream/observability';
import { migrateAuditor, startAuditor, type AuditorConfig } from './auditor.js';
import { cloudTrailApi, type CloudTrailApiOptions } from './cloudtrail.js';
import { loadAuditorEnv, type AuditorEnv } from './env.js';
import { sleep } from './limiter.js';
import { auditorMetrics } from './metrics.js';
import { EmailNotifier, LogNotifier, SlackNotifier, type Notifier } from './notify.js';

/** The audit loop's configuration from the parsed environment. */
export function auditorConfigFromEnv(env: AuditorEnv): AuditorConfig {
  return {
    database: env.MS_CLICKHOUSE_DATABASE,
    topology:
      env.MS_CLICKHOUSE_TOPOLOGY === 'cluster'
        ? { kind: 'cluster', cluster: env.MS_CLICKHOUSE_CLUSTER }
        : { kind: 'single' },
    deliveryGraceMs: env.MS_AUDITOR_DELIVERY_GRACE_MS,
    initialLookbackMs: env.MS_AUDITOR_INITIAL_LOOKBACK_MS,
    reconcileLookbackMs: env.MS_AUDITOR_RECONCILE_LOOKBACK_MS,
    intervalMs: env.MS_AUDITOR_INTERVAL_MS,
    pageSize: env.MS_AUDITOR_PAGE_SIZE,
    lookupBy: env.MS_AUDITOR_LOOKUP_BY,
    lookupRatePerSecond: env.MS_AUDITOR_LOOKUP_RATE,
    maxRetries: env.MS_AUDITOR_MAX_RETRIES,
    checkpointName: env.MS_AUDITOR_CHECKPOINT,
    rescanEveryMs: env.MS_AUDITOR_RESCAN_EVERY_MS,
    conservation: conservationFromEnv(),
  };
}

/**
 * The conservation audit's bounds (ADR 0007). Constants for now: an environment key each would
 * change the generated configuration reference (docs/configuration.md).
 */
export const CONSERVATION_DEFAULTS = {
  /** After an hour is frozen on every partition, the planner (every minute) has had its chance. */
  settleMs: 30 * 60_000,
  /** Longer than the aggregator's 168-hour dedup horizon, so an id it counted twice shows up. */
  dedupLookbackMs: 8 * 24 * 3_600_000,
  /** A key idle this long still has its previous record's carry checked. */
  carryLookbackMs: 35 * 24 * 3_600_000,
} as const;

/** The conservation audit's bounds (the defaults; no environment key yet). */
export function conservationFromEnv(): {
  settleMs: number;
  dedupLookbackMs: number;
  carryLookbackMs: number;
} {
  return { ...CONSERVATION_DEFAULTS };
}

/** CloudTrail client options from the parsed environment. */
export function awsOptionsFromEnv(env: AuditorEnv): CloudTrailApiOptions {
  return {
    region: env.MS_AWS_REGION,
    ...(env.MS_AWS_ENDPOINT ? { endpoint: env.MS_AWS_ENDPOINT } : {}),
    ...(env.MS_AWS_ACCESS_KEY_ID
      ? {
          credentials: {
            accessKeyId: env.MS_AWS_ACCESS_KEY_ID,
            secretAccessKey: env.MS_AWS_SECRET_ACCESS_KEY,
          },
        }
      : {}),
  };
}

/** Starts the auditor process: migrations, the audit loop, the ops server, signal handling. */
export async function main(env: AuditorEnv = loadAuditorEnv()): Promise<Lifecycle> {
  const logger = createLogger('auditor', { level: env.MS_LOG_LEVEL });
  const lifecycle = new Lifecycle(logger);
  lifecycle.handleSignals();
  const metrics = new Metrics('meterstream_auditor');
  const m = auditorMetrics(metrics);
  const config = auditorConfigFromEnv(env);
  const ch = new ClickHouse({
    url: env.MS_CLICKHOUSE_URL,
    user: env.MS_CLICKHOUSE_USER,
    password: env.MS_CLICKHOUSE_PASSWORD,
    application: 'meterstream-auditor',
  });
  lifecycle.onClose('clickhouse', () => ch.close());
  // ClickHouse may come up after us (compose, k8s): retry what is retriable instead of exiting.
  for (let attempt = 0; ; attempt++) {
    try {
      await migrateAuditor(
        ch,
        config.database,
        config.topology,
        logger.child({ module: 'migrate' }),
      );
      break;
    } catch (err) {
      const e = toMeterstreamError(err);
      if (!e.retriable || lifecycle.state !== 'starting') throw e;
      logger.warn({ err: e, attempt }, 'ClickHouse not ready for migrations; retrying');
      await sleep(Math.min(30_000, 500 * 2 ** attempt));
    }
  }
  const api = cloudTrailApi(awsOptionsFromEnv(env));
  lifecycle.onClose('cloudtrail', () => api.destroy());
  const notifiers: Notifier[] = [new LogNotifier(logger.child({ module: 'findings' }))];
  if (env.MS_AUDITOR_SLACK_WEBHOOK_URL)
    notifiers.push(new SlackNotifier(env.MS_AUDITOR_SLACK_WEBHOOK_URL));
  if (env.MS_SMTP_HOST && env.MS_AUDITOR_ALERT_EMAILS.length > 0) {
    const email = new EmailNotifier({
      host: env.MS_SMTP_HOST,
      port: env.MS_SMTP_PORT,
      secure: env.MS_SMTP_SECURE,
      user: env.MS_SMTP_USER,
      password: env.MS_SMTP_PASSWORD,
      from: env.MS_SMTP_FROM,
      to: env.MS_AUDITOR_ALERT_EMAILS,
    });
    notifiers.push(email);
    lifecycle.onClose('smtp', () => email.close());
  }
  const auditor = startAuditor(config, {
    ch,
    cloudTrail: api,
    logger: logger.child({ module: 'audit' }),
    metrics: m,
    notifiers,
  });
  lifecycle.onClose('audit-loop', () => auditor.close());
  const ops = await startOpsServer({
    port: env.MS_AUDITOR_PORT,
    host: '0.0.0.0',
    metrics,
    logger: logger.child({ module: 'ops' }),
    ready: async () => auditor.ready() && (await ch.ping()),
  });
  lifecycle.onClose('ops-server', () => ops.close());
  lifecycle.running();
  logger.info({ port: ops.port, database: config.database }, 'auditor running');
  return lifecycle;
}

if (isEntryPoint(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(
      `auditor: failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(1);
  });
}
