// The services of the demo: their environments (one database, topic and emulator) and their start
// order.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { HOUR_MS } from '@meterstream/runtime';
import { PARTITIONS } from './customers.mjs';
import { ROOT } from './options.mjs';
import { step } from './output.mjs';
import { ok } from './processes.mjs';

/** The aggregator's grace after an hour ends before it freezes it by event time. */
export const GRACE_MS = 60_000;
/** How long a partition must be idle before the aggregator freezes its hours by processing time. */
const IDLE_MS = 15_000;

function common(o) {
  return {
    MS_LOG_LEVEL: 'info',
    MS_KAFKA_BROKERS: o.kafka,
    MS_KAFKA_CLIENT_ID: `meterstream-${o.name}`,
    MS_SCHEMA_REGISTRY_URL: o.registry,
    MS_USAGE_TOPIC: o.topic,
    MS_USAGE_TOPIC_PARTITIONS: String(PARTITIONS),
    MS_CLICKHOUSE_URL: o.clickhouse,
    MS_CLICKHOUSE_DATABASE: o.database,
    MS_AWS_ENDPOINT: o.awsUrl,
    MS_AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    MS_AWS_SECRET_ACCESS_KEY: 'demo-secret',
    MS_SMTP_HOST: o.smtpHost,
    MS_SMTP_PORT: o.smtpPort,
  };
}

/** Where the ingest keys and the console users of this demo name live. */
export function demoFiles(o) {
  return {
    keysFile: path.join(o.data, 'ingest-keys.json'),
    usersFile: path.join(o.data, 'console-users.json'),
  };
}

/** Each service's environment. */
export function serviceEnvs(o) {
  const base = common(o);
  const { keysFile, usersFile } = demoFiles(o);
  const lookbackMs = String((o.hours + 3) * HOUR_MS);
  return {
    ingest: {
      ...base,
      MS_INGEST_HOST: '127.0.0.1',
      MS_INGEST_PORT: String(o.ports.ingest),
      MS_PLANS_DIR: o.plansDir,
      MS_INGEST_KEYS_FILE: keysFile,
      MS_INGEST_KEYS_RELOAD_MS: '500',
    },
    aggregator: {
      ...base,
      MS_AGGREGATOR_GROUP_ID: `meterstream-aggregator-${o.name}-${o.run}`,
      MS_AGGREGATOR_OPS_PORT: String(o.ports.aggregator),
      MS_AGGREGATOR_GRACE_MS: String(GRACE_MS),
      MS_AGGREGATOR_IDLE_MS: String(IDLE_MS),
      MS_AGGREGATOR_TICK_MS: '1000',
      MS_AGGREGATOR_FENCE_MS: '6000',
      MS_AGGREGATOR_CH_TIMEOUT_MS: '5000',
      MS_AGGREGATOR_SESSION_TIMEOUT_MS: '10000',
      MS_AGGREGATOR_PLANS_DIR: o.plansDir,
    },
    submitter: {
      ...base,
      MS_PLANS_DIR: o.plansDir,
      MS_SUBMITTER_TICK_MS: '3000',
      MS_SUBMITTER_OWNERSHIP: 'static',
      MS_SUBMITTER_INSTANCE_ID: `${o.name}-${o.run}`,
      MS_SUBMITTER_OPS_PORT: String(o.ports.submitter),
      MS_SUBMITTER_LOOKBACK_HOURS: String(Math.max(o.hours + 4, 8)),
      MS_SMTP_FROM: 'meterstream-demo@seller.example',
    },
    auditor: {
      ...base,
      MS_AUDITOR_PORT: String(o.ports.auditor),
      MS_AUDITOR_INTERVAL_MS: '5000',
      MS_AUDITOR_DELIVERY_GRACE_MS: '60000',
      MS_AUDITOR_INITIAL_LOOKBACK_MS: lookbackMs,
      MS_AUDITOR_RECONCILE_LOOKBACK_MS: lookbackMs,
      MS_AUDITOR_RESCAN_EVERY_MS: '0',
      MS_AUDITOR_CHECKPOINT: `demo-${o.run}`,
      MS_AUDITOR_ALERT_EMAILS: 'sre@seller.example',
      MS_SMTP_FROM: 'meterstream-audit@seller.example',
    },
    console: {
      ...base,
      MS_CONSOLE_PORT: String(o.ports.console),
      MS_CONSOLE_HOST: '127.0.0.1',
      MS_CONSOLE_USERS_FILE: usersFile,
      MS_CONSOLE_SESSION_SECRET: randomBytes(32).toString('hex'),
      MS_CONSOLE_SECURE_COOKIES: 'false',
      MS_CONSOLE_PLANS_DIR: o.plansDir,
      MS_SUBMITTER_URL: `http://127.0.0.1:${o.ports.submitter}`,
    },
  };
}

const main = (svc) => path.join(ROOT, `services/${svc}/dist/main.js`);
const readyz = (o, svc) => `http://127.0.0.1:${o.ports[svc]}/readyz`;

/**
 * Starts ingest, then the aggregator, then submitter, auditor and console. Only ingest and the
 * aggregator are awaited here: the aggregator freezes a partition's hours by processing time after
 * it has been idle for MS_AGGREGATOR_IDLE_MS, so the generator must start before that; on a busy
 * machine the others' readiness can take longer, and an idle freeze before the first event would
 * move the whole history into the current hour ({@link awaitOthers} after the generator).
 */
export async function startServices(o, procs, envs) {
  step('start ingest');
  procs.start('ingest', main('ingest'), envs.ingest);
  await procs.waitFor('ingest /readyz', () => ok(readyz(o, 'ingest')));
  step('start aggregator, submitter, auditor, console');
  procs.start('aggregator', main('aggregator'), envs.aggregator);
  await procs.waitFor('aggregator /readyz', () => ok(readyz(o, 'aggregator')));
  for (const svc of ['submitter', 'auditor', 'console']) procs.start(svc, main(svc), envs[svc]);
}

/** Waits for submitter, auditor and console to be ready. */
export async function awaitOthers(o, procs) {
  for (const svc of ['submitter', 'auditor', 'console'])
    await procs.waitFor(`${svc} /readyz`, () => ok(readyz(o, svc)));
}
