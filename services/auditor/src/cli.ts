#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ClickHouse } from '@meterstream/clickhouse';
import { isEntryPoint } from '@meterstream/config';
import { bigintAsString } from '@meterstream/contracts';
import { toMeterstreamError } from '@meterstream/errors';
import { createLogger } from '@meterstream/observability';
import { DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS, hourStart } from '@meterstream/runtime';
import { runAuditOnce } from './auditor.js';
import { cloudTrailApi } from './cloudtrail.js';
import {
  auditorConfigFromEnv,
  awsOptionsFromEnv,
  conservationFromEnv,
  loadAuditorEnv,
  type AuditorEnv,
} from './env.js';
import { nextFinding } from './findings.js';
import { migrateAuditor } from './migrations.js';

import { buildReport, formatReport } from './report.js';
import { AuditStore } from './store.js';
import { formatTrace, traceEvent } from './trace.js';

/**
 * Exit codes: 0 clean, 1 error or bad usage, 2 unexplained findings, 3 trace incomplete, 4 the
 * conservation chain could not be checked (no finding, but no proof either).
 */
export const EXIT = { ok: 0, error: 1, findings: 2, incomplete: 3, unchecked: 4 } as const;

export const HELP = `Usage: meterstream <command> [options]

Commands:
  audit report --from <time> --to <time> [--product <code>] [--format text|json]
      Reconcile the ledger with CloudTrail for the hours in [from, to) and print a summary per
      product and customer, and the conservation chain events -> windows -> ledger -> CloudTrail.
      Exits 2 when there are unexplained findings, 4 when the conservation chain could not be
      checked (the aggregator's tables missing, a query error), for cron and CI.
  audit run
      Read CloudTrail from the checkpoint and reconcile once, as the daemon does each tick.
  audit explain <finding-id> --note <text>
      Mark a finding as explained (it no longer fails \`audit report\`).
  trace <usage-event-id> [--format text|json]
      The lineage of one usage event: Kafka partition/offset -> hourly window -> ledger record
      -> AWS result -> CloudTrail event. Exits 3 when a link is missing.

Times are ISO 8601 (2026-11-26T09:00:00Z) or relative to now (now-24h, now-90m, now).
Configuration comes from the environment (MS_CLICKHOUSE_*, MS_AWS_*, MS_AUDITOR_*).
`;

/** Where the CLI writes. */
export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

/** Parses `2026-11-26T09:00:00Z`, `now`, `now-24h`, `now-90m`, `now-7d`. */
export function parseTime(v: string, now = Date.now()): number {
  if (v === 'now') return now;
  const rel = /^now-(\d+)([smhd])$/.exec(v);
  if (rel)
    return (
      now -
      Number(rel[1]) *
        { s: SECOND_MS, m: MINUTE_MS, h: HOUR_MS, d: DAY_MS }[rel[2] as 's' | 'm' | 'h' | 'd']
    );
  const ms = /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) throw new UsageError(`not a time: ${v}`);
  return ms;
}

class UsageError extends Error {}

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export async function runCli(
  argv: string[],
  io: CliIo,
  deps: { store?: AuditStore; env?: AuditorEnv } = {},
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        product: { type: 'string' },
        format: { type: 'string', default: 'text' },
        note: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    io.stderr(`${(err as Error).message}\n\n${HELP}`);
    return EXIT.error;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    io.stdout(HELP);
    return values.help ? EXIT.ok : EXIT.error;
  }
  const json = values.format === 'json';
  if (values.format !== 'json' && values.format !== 'text') {
    io.stderr(`--format must be text or json\n`);
    return EXIT.error;
  }
  const env = deps.env ?? loadAuditorEnv();
  let ch: ClickHouse | undefined;
  const store =
    deps.store ??
    new AuditStore(
      (ch = new ClickHouse({
        url: env.MS_CLICKHOUSE_URL,
        user: env.MS_CLICKHOUSE_USER,
        password: env.MS_CLICKHOUSE_PASSWORD,
        application: 'meterstream-auditor-cli',
      })),
      env.MS_CLICKHOUSE_DATABASE,
    );
  try {
    const [cmd, sub, arg] = positionals;
    if (cmd === 'audit' && sub === 'report') {
      if (!values.from || !values.to) throw new UsageError('audit report needs --from and --to');
      const now = Date.now();
      const fromMs = hourStart(parseTime(values.from, now));
      const toMs = Math.ceil(parseTime(values.to, now) / HOUR_MS) * HOUR_MS;
      if (toMs <= fromMs) throw new UsageError('--to must be after --from');
      const report = await buildReport(store, {
        fromMs,
        toMs,
        graceMs: env.MS_AUDITOR_DELIVERY_GRACE_MS,
        checkpointName: env.MS_AUDITOR_CHECKPOINT,
        ...(values.product ? { productCode: values.product } : {}),
        conservation: { ...conservationFromEnv(), nowMs: now },
      });
      // Findings carry their ledger record, whose 64-bit values print as decimal strings.
      io.stdout(
        json ? `${JSON.stringify(report, bigintAsString, 2)}\n` : `${formatReport(report)}\n`,
      );
      if (report.unexplained > 0) return EXIT.findings;
      return report.chainError ? EXIT.unchecked : EXIT.ok;
    }
    if (cmd === 'audit' && sub === 'explain') {
      if (!arg || !values.note) throw new UsageError('audit explain needs a finding id and --note');
      const matches = await store.findings({ idPrefix: arg });
      if (matches.length > 1) throw new UsageError(`finding id prefix ${arg} is ambiguous`);
      const [f] = matches;
      if (!f) {
        io.stderr(`no finding ${arg}\n`);
        return EXIT.error;
      }
      await store.writeFindings(
        [nextFinding(f, { ...f, status: 'explained', note: values.note })],
        Date.now(),
      );
      io.stdout(`finding ${f.id} explained\n`);
      return EXIT.ok;
    }
    if (cmd === 'audit' && sub === 'run') {
      const logger = createLogger('auditor-cli', { level: env.MS_LOG_LEVEL });
      const config = auditorConfigFromEnv(env);
      const api = cloudTrailApi(awsOptionsFromEnv(env));
      try {
        await migrateAuditor(store.ch, config.database, config.topology, logger);
        const r = await runAuditOnce(config, { ch: store.ch, cloudTrail: api, logger });
        io.stdout(
          `${JSON.stringify({ newEvents: r.newEvents, outcomes: r.reconciliation.outcomes, findings: r.reconciliation.findings.length, conservationFindings: r.conservation?.findings.length ?? 0, newFindings: r.newFindings.length })}\n`,
        );
        return r.openFindings.length > 0 ? EXIT.findings : EXIT.ok;
      } finally {
        api.destroy();
      }
    }
    if (cmd === 'trace' && sub) {
      const t = await traceEvent(store, sub);
      io.stdout(json ? `${JSON.stringify(t, null, 2)}\n` : `${formatTrace(t)}\n`);
      return t.complete ? EXIT.ok : EXIT.incomplete;
    }
    throw new UsageError(`unknown command: ${positionals.join(' ')}`);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`${err.message}\n\n${HELP}`);
      return EXIT.error;
    }
    const e = toMeterstreamError(err);
    io.stderr(`error: ${e.code}: ${e.message}\n`);
    return EXIT.error;
  } finally {
    await ch?.close();
  }
}

if (isEntryPoint(import.meta.url)) {
  void runCli(process.argv.slice(2), {
    stdout: (s) => void process.stdout.write(s),
    stderr: (s) => void process.stderr.write(s),
  }).then((code) => {
    process.exitCode = code;
  });
}
