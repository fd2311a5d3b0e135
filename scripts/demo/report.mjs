// Steps 9 and 10: the table, the summary lines, the JSON report, and the interactive banner.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './options.mjs';
import { elapsedS } from './output.mjs';
import { chRows } from './stores.mjs';

/** The table's columns: heading and cell of a row. */
const COLUMNS = [
  ['product', (r) => r.product],
  ['customer', (r) => r.customer],
  ['dimension', (r) => r.dimension],
  ['events', (r) => r.events],
  ['dup', (r) => r.duplicates],
  ['late', (r) => r.late],
  ['unique qty', (r) => r.uniqueQuantity],
  ['entitled', (r) => r.entitlement ?? '-'],
  ['windows', (r) => r.windows],
  ['records sent', (r) => r.recordsSent],
  ['expected', (r) => r.expectedBilled],
  ['billed (AWS)', (r) => r.billed],
  ['CloudTrail', (r) => r.cloudTrailQuantity],
  ['audit', (r) => (r.matched ? 'matched' : r.findings.length ? r.findings.join(',') : 'MISMATCH')],
];

/**
 * The table's lines: headings, a rule, a line per row; text columns (the first three and the last)
 * left-aligned, numbers right-aligned.
 */
export function tableLines(rows) {
  const cells = rows.map((r) => COLUMNS.map(([, f]) => String(f(r))));
  const widths = COLUMNS.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const fmt = (vals) =>
    vals
      .map((v, i) => (i < 3 || i === vals.length - 1 ? v.padEnd(widths[i]) : v.padStart(widths[i])))
      .join('  ');
  return [
    fmt(COLUMNS.map(([h]) => h)),
    widths.map((w) => '─'.repeat(w)).join('  '),
    ...cells.map(fmt),
  ];
}

/** How many ledger records needed retries (a line, or nothing when the query fails). */
async function retriedLine(o, custList) {
  const retried = await chRows(
    o,
    `SELECT count() AS n, countIf(a > 1) AS retried, max(a) AS most
     FROM (SELECT argMax(attempts, version) AS a FROM ledger WHERE customer IN (${custList})
           GROUP BY product_code, customer, dimension, hour)`,
  ).catch(() => []);
  const r = retried[0];
  return r
    ? `ledger: ${r.n} records, ${r.retried} needed more than one BatchMeterUsage attempt (most: ${r.most})`
    : undefined;
}

/** Step 9: prints the table and the summary; writes --json. Whether every row matched. */
export async function report(o, { result, consoleCheck, custList }) {
  const { rows } = result;
  const allMatched = rows.every((r) => r.matched);
  console.log('');
  for (const line of tableLines(rows)) console.log(line);
  console.log('');
  console.log(
    `expected = floor(Σ unique usage) for subscriptions, floor(max(0, Σ unique usage − entitlement)) for contracts; ` +
      `computed by the demo from what it sent (deduplicated by event id).`,
  );
  const retried = await retriedLine(o, custList);
  if (retried) console.log(retried);
  const foreign = result.allFindings.map((f) => `${f.kind} ${f.n}`).join(', ');
  console.log(
    `open audit findings in ${o.database}: ${foreign || 'none'}${foreign && !o.ownAws ? ' (the stack emulator is shared: findings on other customers are not this run’s)' : ''}`,
  );
  console.log(
    consoleCheck.signedIn
      ? `console: signed in as demo; the contracts page lists ${consoleCheck.listed} of this run's 2 contract customers`
      : `console: sign-in ${consoleCheck.error}`,
  );
  console.log(
    allMatched
      ? `✔ every row matched (${rows.length} rows) in ${elapsedS().toFixed(0)}s`
      : `✖ ${rows.filter((r) => !r.matched).length} of ${rows.length} rows did not match`,
  );
  if (o.jsonOut) writeJson(o, result, consoleCheck, allMatched);
  return allMatched;
}

function writeJson(o, result, consoleCheck, allMatched) {
  const doc = {
    name: o.name,
    run: o.run,
    database: o.database,
    topic: o.topic,
    allMatched,
    ownAws: o.ownAws,
    seconds: elapsedS(),
    openFindings: result.allFindings,
    console: { signedIn: consoleCheck.signedIn, contractCustomersListed: consoleCheck.listed },
    rows: result.rows,
  };
  writeFileSync(o.jsonOut, JSON.stringify(doc, null, 2));
}

/** Step 10: where to look while the demo keeps running. */
export function printInteractive(o, password) {
  console.log(`
Console:  http://127.0.0.1:${o.ports.console}   sign in as demo / ${password}
MailDev:  ${o.smtpWeb}   (submission notices and audit digests)
AWS:      ${o.awsUrl}/_admin/billing   ${o.awsUrl}/_admin/cloudtrail
Metrics:  ingest :${o.ports.ingest}  aggregator :${o.ports.aggregator}  submitter :${o.ports.submitter}  auditor :${o.ports.auditor}  console :${o.ports.console}  (/metrics)
Logs:     ${path.relative(ROOT, o.logs)}/${o.logPrefix}-*.log
A live trickle of usage with real timestamps continues (billed after the current hour closes).
Ctrl-C stops the services.`);
}
