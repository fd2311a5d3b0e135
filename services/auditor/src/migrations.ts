import { migrate, type ClickHouse, type Migration, type Topology } from '@meterstream/clickhouse';
import {
  AUDIT_CHECKPOINTS,
  AUDIT_FINDINGS,
  CLOUDTRAIL_EVENTS,
  CLOUDTRAIL_RECORDS,
  ENTITLEMENT_TERMS,
  LEDGER,
  USAGE_EVENTS,
  USAGE_WINDOWS,
  WINDOW_FREEZES,
} from '@meterstream/contracts';
import type { Logger } from '@meterstream/observability';

/**
 * Tables the auditor owns (ADR 0001); their names, DDL and codecs are their contracts in
 * @meterstream/contracts.
 */
export const AUDITOR_TABLES = {
  events: CLOUDTRAIL_EVENTS,
  records: CLOUDTRAIL_RECORDS,
  findings: AUDIT_FINDINGS,
  checkpoints: AUDIT_CHECKPOINTS,
} as const;

/** Tables of other services the auditor reads (ADR 0001), through their contracts. */
export const FOREIGN_TABLES = {
  ledger: LEDGER,
  usageEvents: USAGE_EVENTS,
  usageWindows: USAGE_WINDOWS,
  windowFreezes: WINDOW_FREEZES,
  entitlementTerms: ENTITLEMENT_TERMS,
} as const;

/** The auditor's numbered migrations (component `auditor`). */
export const AUDITOR_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'cloudtrail events and records, findings, checkpoints',
    up: (ctx) =>
      [CLOUDTRAIL_EVENTS, CLOUDTRAIL_RECORDS, AUDIT_FINDINGS, AUDIT_CHECKPOINTS].flatMap((t) =>
        t.create(ctx),
      ),
  },
];

/** Creates or upgrades the auditor's tables. */
export async function migrateAuditor(
  ch: ClickHouse,
  database: string,
  topology: Topology,
  logger?: Logger,
): Promise<void> {
  await migrate(ch, 'auditor', AUDITOR_MIGRATIONS, { database, topology }, logger);
}
