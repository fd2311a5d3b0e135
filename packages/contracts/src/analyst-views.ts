// The analysts' views over the aggregator's tables (aggregator migration 2): plain views, always
// current, SQL valid on ClickHouse 18.16 and current releases.
import { allowIdentifiers, renderCreateView, type MigrationContext } from '@meterstream/clickhouse';
import { USAGE_EVENTS } from './usage-events.js';
import { USAGE_WINDOWS } from './usage-windows.js';

/** Names of the analyst views. */
export const ANALYST_VIEWS = [
  'usage_hourly',
  'usage_daily',
  'late_usage',
  'top_customers',
] as const;
allowIdentifiers(...ANALYST_VIEWS);

/** The statements that create every analyst view. */
export function createAnalystViews({ database: db, topology }: MigrationContext): string[] {
  const windows = `${db}.${USAGE_WINDOWS.name}`;
  const events = `${db}.${USAGE_EVENTS.name}`;
  return [
    renderCreateView(
      db,
      'usage_hourly',
      `SELECT product_code, customer, customer_kind, dimension, hour, toDate(hour) AS day,
             quantity_micros, quantity_micros / 1000000 AS quantity, event_count,
             late_quantity_micros, late_event_count, duplicate_count, freeze_kind, frozen_at
           FROM ${windows}`,
      topology,
    ),
    renderCreateView(
      db,
      'usage_daily',
      `SELECT product_code, customer, dimension, toDate(hour) AS day,
             sum(quantity_micros) AS total_micros, total_micros / 1000000 AS quantity,
             sum(event_count) AS events, sum(late_quantity_micros) AS late_micros, count() AS hours
           FROM ${windows}
           GROUP BY product_code, customer, dimension, day`,
      topology,
    ),
    renderCreateView(
      db,
      'late_usage',
      `SELECT product_code, customer, id, dim AS dimension, q AS quantity_micros, et AS event_time,
             eh AS event_hour, bh AS billing_hour, (bh - eh) / 3600 AS hours_late, old AS too_old,
             part AS kafka_partition, off AS kafka_offset
           FROM (
             SELECT product_code, customer, id,
               argMin(dimension, kafka_offset) AS dim, argMin(quantity_micros, kafka_offset) AS q,
               argMin(event_time, kafka_offset) AS et, argMin(event_hour, kafka_offset) AS eh,
               min(billing_hour) AS bh, max(too_old) AS old,
               any(kafka_partition) AS part, min(kafka_offset) AS off
             FROM ${events}
             GROUP BY product_code, customer, id
           )
           WHERE bh > eh`,
      topology,
    ),
    renderCreateView(
      db,
      'top_customers',
      `SELECT product_code, customer, customer_kind, sum(quantity_micros) AS total_micros,
             total_micros / 1000000 AS quantity, sum(event_count) AS events,
             min(hour) AS first_hour, max(hour) AS last_hour
           FROM ${windows}
           GROUP BY product_code, customer, customer_kind
           ORDER BY total_micros DESC`,
      topology,
    ),
  ];
}
