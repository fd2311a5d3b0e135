import type { Migration } from '@meterstream/clickhouse';
import {
  ANALYST_VIEWS,
  PARTITION_OWNERS,
  USAGE_EVENTS,
  USAGE_REJECTS,
  USAGE_WINDOWS,
  WINDOW_FREEZES,
  createAnalystViews,
} from '@meterstream/contracts';

/** Tables the aggregator owns (their contracts are in @meterstream/contracts; ADR 0001). */
export const TABLES = {
  events: USAGE_EVENTS,
  windows: USAGE_WINDOWS,
  freezes: WINDOW_FREEZES,
  owners: PARTITION_OWNERS,
  rejects: USAGE_REJECTS,
} as const;

/** Analyst views (plain views: always current, SQL valid on ClickHouse 18.16 and current). */
export const VIEWS = ANALYST_VIEWS;

/** The aggregator's numbered migrations. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'raw events, windows, freezes, owners, rejects',
    up: (ctx) => Object.values(TABLES).flatMap((t) => t.create(ctx)),
  },
  { version: 2, name: 'analyst views', up: createAnalystViews },
];
