// Steps 7 and 8: what every row must come to, computed from what the generator sent, and the
// wait until ClickHouse (windows, ledger, CloudTrail records, findings) and the emulator's billing
// agree with it.
import { quoteString } from '@meterstream/clickhouse';
import { MICROS, formatMicros, parseMicros, sleep, unitsToMicros } from '@meterstream/runtime';
import { http } from './http.mjs';
import { info } from './output.mjs';
import { chRows } from './stores.mjs';
import { keyOfEvent } from './traffic.mjs';

/** Micros of a decimal quantity the demo generated (always well formed). */
function micros(q) {
  const m = parseMicros(String(q));
  if (m === undefined) throw new Error(`not a decimal quantity: ${q}`);
  return m;
}

/**
 * One row per customer and dimension (of the first and the last played hour's plan versions):
 * the unique usage, the entitlement of contract customers, and what AWS must bill:
 * floor(Σ unique usage) for subscriptions, floor(max(0, Σ unique usage − entitlement)) for contracts.
 */
export function expectedRows({ sent, customers, entitlement, dimsAt, firstHour, lastHour }) {
  const usageOf = new Map();
  for (const e of sent.values()) {
    const k = keyOfEvent(e);
    usageOf.set(k, (usageOf.get(k) ?? 0n) + micros(e.quantity));
  }
  const rows = [];
  for (const c of customers) {
    const dims = [...new Set([...dimsAt(c.plan, firstHour), ...dimsAt(c.plan, lastHour)])];
    for (const d of dims) {
      const k = `${c.plan.productCode}|${c.id}|${d}`;
      const usage = usageOf.get(k) ?? 0n;
      let billable = usage;
      let ent;
      if (c.kind === 'account') {
        ent = unitsToMicros(entitlement.get(`${c.id}|${d}`) ?? 0);
        billable = usage > ent ? usage - ent : 0n;
      }
      rows.push({ c, d, k, usage, ent, expectedBilled: billable / MICROS });
    }
  }
  return rows;
}

/** The SQL of what the pipeline wrote for the demo's customers (a list of quoted ids). */
function queries(custList) {
  return {
    ledger: `SELECT product_code, customer, dimension,
                countIf(st = 'accepted') AS recs, sumIf(q, st = 'accepted') AS qty,
                countIf(st != 'accepted') AS open, groupUniqArray(st) AS states
              FROM (SELECT product_code, customer, dimension, hour,
                      argMax(state, version) AS st, argMax(quantity, version) AS q
                    FROM ledger WHERE customer IN (${custList})
                    GROUP BY product_code, customer, dimension, hour)
              GROUP BY product_code, customer, dimension`,
    windows: `SELECT product_code, customer, dimension, count() AS n,
                sum(quantity_micros) AS micros, sum(late_quantity_micros) AS late_micros
              FROM usage_windows WHERE customer IN (${custList})
              GROUP BY product_code, customer, dimension`,
    trail: `SELECT product_code, customer, dimension, count() AS recs, sum(q) AS qty
              FROM (SELECT product_code, customer, dimension, hour, any(quantity) AS q
                    FROM cloudtrail_records
                    WHERE customer IN (${custList}) AND status = 'Success'
                    GROUP BY product_code, customer, dimension, hour)
              GROUP BY product_code, customer, dimension`,
    findings: `SELECT product_code, customer, dimension, groupArray(kind) AS kinds
              FROM (SELECT finding_id, argMax(kind, version) AS kind, argMax(status, version) AS status,
                      argMax(product_code, version) AS product_code, argMax(customer, version) AS customer,
                      argMax(dimension, version) AS dimension
                    FROM audit_findings GROUP BY finding_id)
              WHERE status != 'resolved' AND customer IN (${custList})
              GROUP BY product_code, customer, dimension`,
    // An event counts in the billing hour of its first row (ADR 0002): late when that is
    // after its own hour. Re-sent ids of old hours are duplicates, not late usage.
    lates: `SELECT product_code, customer, dimension, count() AS n
              FROM (SELECT product_code, customer, id, argMin(dimension, kafka_offset) AS dimension,
                      min(billing_hour) AS bh, min(event_hour) AS eh
                    FROM usage_events WHERE customer IN (${custList})
                    GROUP BY product_code, customer, id)
              WHERE bh > eh GROUP BY product_code, customer, dimension`,
    allFindings: `SELECT kind, count() AS n FROM (SELECT finding_id, argMax(kind, version) AS kind,
                argMax(status, version) AS status FROM audit_findings GROUP BY finding_id)
              WHERE status = 'open' GROUP BY kind`,
  };
}

/** The customers of the run as a SQL list. */
export const customerList = (customers) => customers.map((c) => quoteString(c.id)).join(',');

/** What the emulator billed per row key: records and whole units. */
async function billedByAws(o, plans) {
  const billing = new Map();
  for (const plan of plans) {
    const b = await http(
      'GET',
      `${o.awsUrl}/_admin/billing?productCode=${encodeURIComponent(plan.productCode)}`,
    );
    for (const r of b.records) {
      const cust = r.customerAwsAccountId ?? r.customerIdentifier;
      const k = `${r.productCode}|${cust}|${r.dimension}`;
      const v = billing.get(k) ?? { recs: 0, qty: 0n };
      v.recs++;
      v.qty += micros(r.quantity) / MICROS;
      billing.set(k, v);
    }
  }
  return billing;
}

/** One row of the table from what each store says about its key. */
export function tableRow(s, { l, w, ct, f, b, stat, lates }) {
  const ledgerQty = BigInt(l?.qty ?? 0);
  const ctQty = BigInt(ct?.qty ?? 0);
  const windowMicros = BigInt(w?.micros ?? 0);
  const row = {
    product: s.c.plan.productCode,
    customer: s.c.id,
    dimension: s.d,
    events: stat.events,
    duplicates: stat.dupes,
    late: Number(lates ?? 0),
    uniqueQuantity: formatMicros(s.usage),
    entitlement: s.ent === undefined ? null : formatMicros(s.ent),
    windows: Number(w?.n ?? 0),
    windowQuantity: formatMicros(windowMicros),
    recordsSent: Number(l?.recs ?? 0),
    recordsOpen: Number(l?.open ?? 0),
    expectedBilled: Number(s.expectedBilled),
    ledgerQuantity: Number(ledgerQty),
    billed: Number(b.qty),
    cloudTrailRecords: Number(ct?.recs ?? 0),
    cloudTrailQuantity: Number(ctQty),
    findings: f ? f.kinds : [],
  };
  row.matched =
    windowMicros === s.usage &&
    row.recordsOpen === 0 &&
    row.recordsSent > 0 &&
    b.qty === s.expectedBilled &&
    ledgerQty === s.expectedBilled &&
    ctQty === s.expectedBilled &&
    row.cloudTrailRecords === row.recordsSent &&
    row.findings.length === 0;
  return row;
}

/** The table as it stands now, and the open findings of the database by kind. */
export async function collect(o, { spec, stats, customers, plans }) {
  const q = queries(customerList(customers));
  const names = Object.keys(q);
  const results = await Promise.all(names.map((n) => chRows(o, q[n]).catch(() => [])));
  const got = Object.fromEntries(names.map((n, i) => [n, results[i]]));
  const billing = await billedByAws(o, plans);
  const by = (rows) =>
    new Map(rows.map((r) => [`${r.product_code}|${r.customer}|${r.dimension}`, r]));
  const [L, W, C, F, LT] = ['ledger', 'windows', 'trail', 'findings', 'lates'].map((n) =>
    by(got[n]),
  );
  const rows = spec.map((s) =>
    tableRow(s, {
      l: L.get(s.k),
      w: W.get(s.k),
      ct: C.get(s.k),
      f: F.get(s.k),
      b: billing.get(s.k) ?? { recs: 0, qty: 0n },
      stat: stats.get(s.k) ?? { events: 0, dupes: 0, late: 0 },
      lates: LT.get(s.k)?.n,
    }),
  );
  return { rows, allFindings: got.allFindings };
}

/** The progress line of a table: how many rows are complete at each stage. */
export function progressLine(rows) {
  const count = (f) => rows.filter(f).length;
  const windowsOk = count((r) => r.windowQuantity === r.uniqueQuantity);
  const sentOk = count(
    (r) => r.recordsOpen === 0 && r.ledgerQuantity === r.expectedBilled && r.recordsSent > 0,
  );
  const billedOk = count((r) => r.billed === r.expectedBilled);
  const auditedOk = count((r) => r.matched);
  return `rows ${rows.length}: windows complete ${windowsOk}, ledger sent ${sentOk}, billed ${billedOk}, audited ${auditedOk}`;
}

/** Step 8: collects every 3 s until every row matched or --timeout passed; the last table. */
export async function settle(o, procs, input) {
  const until = Date.now() + o.timeoutS * 1000;
  let lastLine = '';
  for (;;) {
    await procs.checkAlive('died; see its log');
    const result = await collect(o, input);
    const line = progressLine(result.rows);
    if (line !== lastLine) info(line);
    lastLine = line;
    if (result.rows.every((r) => r.matched)) return result;
    if (Date.now() > until) {
      console.error(`✖ not every row matched within ${o.timeoutS}s`);
      return result;
    }
    await sleep(3000);
  }
}
