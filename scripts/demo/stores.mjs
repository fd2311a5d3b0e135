// ClickHouse and Kafka as the demo uses them: SQL over HTTP on its database, a fresh database and
// no topics of earlier runs.
import { createKafka } from '@meterstream/kafka';
import { createLogger } from '@meterstream/observability';
import { info, step } from './output.mjs';

/** ClickHouse over HTTP (values in SQL go through quoteString of @meterstream/clickhouse). */
export async function ch(o, sql, database = o.database) {
  const u = new URL(o.clickhouse);
  if (database) u.searchParams.set('database', database);
  const res = await fetch(u, {
    method: 'POST',
    body: sql,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`ClickHouse: ${text.slice(0, 400)}`);
  return text;
}

/** The rows of a query. */
export async function chRows(o, sql) {
  const text = await ch(o, `${sql} FORMAT JSON`);
  return JSON.parse(text).data;
}

/** Deletes the usage topics of earlier runs of this demo name (one topic per run). */
async function deleteOldTopics(o) {
  const kafka = createKafka({
    brokers: o.kafka.split(','),
    clientId: `meterstream-${o.name}-demo`,
    logger: createLogger('demo', { level: 'silent' }),
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const old = (await admin.listTopics()).filter((t) => t.startsWith(`meterstream.${o.name}.`));
    if (old.length > 0) await admin.deleteTopics({ topics: old });
  } finally {
    await admin.disconnect();
  }
}

/** Step 2: the demo's database, recreated empty, and the topics of earlier runs gone. */
export async function freshStores(o) {
  step(`fresh database ${o.database}; topics of earlier "${o.name}" runs deleted`);
  await ch(o, `DROP DATABASE IF EXISTS ${o.database}`, '');
  await ch(o, `CREATE DATABASE ${o.database}`, '');
  await deleteOldTopics(o).catch((e) => info(`could not delete old topics: ${e.message}`));
}
