import { smtpFromEnv } from '@meterstream/config';
import { ClickHouse } from '@meterstream/clickhouse';
import { toMeterstreamError } from '@meterstream/errors';
import {
  Metrics,
  startOpsServer,
  type Logger,
  type ServiceHandle,
} from '@meterstream/observability';
import { retry } from '@meterstream/runtime';
import { runAuditLoop, type AuditLoop } from './auditor.js';
import { cloudTrailApi } from './cloudtrail.js';
import { auditorConfigFromEnv, awsOptionsFromEnv, type AuditorEnv } from './env.js';
import { auditorMetrics } from './metrics.js';
import { migrateAuditor } from './migrations.js';
import { EmailNotifier, LogNotifier, SlackNotifier, type Notifier } from './notify.js';

/** Collaborators of {@link startAuditor}; tests inject their own. */
export interface AuditorStartDeps {
  logger: Logger;
  metrics?: Metrics;
}

/** A running auditor: `ready` resolves once the first audit run has succeeded. */
export interface AuditorHandle extends ServiceHandle {
  /** Port of the ops server (/metrics, /healthz, /readyz). */
  port: number;
  metrics: Metrics;
  loop: AuditLoop;
}

/** The channels findings go to: the log always, Slack and email when configured. */
function notifiersOf(env: AuditorEnv, logger: Logger): { notifiers: Notifier[]; close(): void } {
  const notifiers: Notifier[] = [new LogNotifier(logger.child({ module: 'findings' }))];
  if (env.MS_AUDITOR_SLACK_WEBHOOK_URL)
    notifiers.push(new SlackNotifier(env.MS_AUDITOR_SLACK_WEBHOOK_URL));
  let email: EmailNotifier | undefined;
  const smtp = smtpFromEnv(env);
  if (smtp && env.MS_AUDITOR_ALERT_EMAILS.length > 0) {
    email = new EmailNotifier({ ...smtp, to: env.MS_AUDITOR_ALERT_EMAILS });
    notifiers.push(email);
  }
  return { notifiers, close: () => email?.close() };
}

/**
 * Starts the auditor: migrations (retried while ClickHouse is not up yet, as under compose or
 * Kubernetes), the audit loop and the ops server.
 */
export async function startAuditor(
  env: AuditorEnv,
  deps: AuditorStartDeps,
): Promise<AuditorHandle> {
  const { logger } = deps;
  const metrics = deps.metrics ?? new Metrics('meterstream_auditor');
  const config = auditorConfigFromEnv(env);
  const ch = new ClickHouse({
    url: env.MS_CLICKHOUSE_URL,
    user: env.MS_CLICKHOUSE_USER,
    password: env.MS_CLICKHOUSE_PASSWORD,
    application: 'meterstream-auditor',
  });
  try {
    await retry(
      () =>
        migrateAuditor(ch, config.database, config.topology, logger.child({ module: 'migrate' })),
      {
        attempts: Number.POSITIVE_INFINITY,
        baseMs: 500,
        maxMs: 30_000,
        jitter: 0,
        retriable: (err) => toMeterstreamError(err).retriable,
        onRetry: (err, attempt) =>
          logger.warn(
            { err: toMeterstreamError(err), attempt },
            'ClickHouse not ready for migrations; retrying',
          ),
      },
    );
  } catch (err) {
    await ch.close();
    throw toMeterstreamError(err);
  }
  const api = cloudTrailApi(awsOptionsFromEnv(env));
  const channels = notifiersOf(env, logger);
  const loop = runAuditLoop(config, {
    ch,
    cloudTrail: api,
    logger: logger.child({ module: 'audit' }),
    metrics: auditorMetrics(metrics),
    notifiers: channels.notifiers,
  });
  const ops = await startOpsServer({
    port: env.MS_AUDITOR_PORT,
    host: '0.0.0.0',
    metrics,
    logger: logger.child({ module: 'ops' }),
    ready: async () => loop.succeeded() && (await ch.ping()),
  });
  logger.info({ port: ops.port, database: config.database }, 'auditor started');
  let closing: Promise<void> | undefined;
  return {
    ready: loop.firstSuccess,
    port: ops.port,
    metrics,
    loop,
    close: () =>
      (closing ??= (async () => {
        await ops.close();
        await loop.close();
        channels.close();
        api.destroy();
        await ch.close();
      })()),
  };
}
