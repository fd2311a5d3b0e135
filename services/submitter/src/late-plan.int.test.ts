import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testLogger } from '@meterstream/testing';
import { heldReasonOf } from './ledger.js';
import { startSubmitter, type SubmitterHandle } from './start.js';
import {
  HOUR,
  M,
  billedMap,
  freezeHours,
  hoursAgo,
  insertWindows,
  iso,
  startHarness,
  subscribe,
  type Harness,
  ledgerRecord,
} from './testing/harness.js';

// Issue 13, item 6: late usage carried into an hour whose plan version dropped the dimension, and
// plan fixes that apply without a restart (ADR 0006).

/** Its plan drops `legacy` from hoursAgo(5) on; the AWS listing keeps it. */
const DROP = 'ms-drop';
/** Its plan lacks `beta` until the seller fixes the file while the submitter runs. */
const FIX = 'ms-fix';

let h: Harness;
const running: SubmitterHandle[] = [];

const planYaml = (code: string, versions: { from: string; dims: [string, string][] }[]): string =>
  `productCode: ${code}\nname: ${code}\npricingModel: subscription\nversions:\n` +
  versions
    .map(
      (v) =>
        `  - effectiveFrom: ${v.from}\n    dimensions:\n` +
        v.dims
          .map(([d, price]) => `      - { name: ${d}, unit: u, pricePerUnit: "${price}" }\n`)
          .join(''),
    )
    .join('');

async function start(): Promise<SubmitterHandle> {
  const s = await startSubmitter(h.config(), { logger: testLogger('submitter-late-plan') });
  running.push(s);
  return s;
}

const record = (productCode: string, customer: string, dimension: string, hour: number) =>
  ledgerRecord(h, productCode, customer, dimension, hour);

beforeAll(async () => {
  h = await startHarness();
  await writeFile(
    join(h.plansDir, 'drop.yaml'),
    planYaml(DROP, [
      {
        from: '2025-01-01T00:00:00Z',
        dims: [
          ['api', '1'],
          ['legacy', '2'],
        ],
      },
      { from: iso(hoursAgo(5)), dims: [['api', '1']] },
    ]),
  );
  await writeFile(
    join(h.plansDir, 'fix.yaml'),
    planYaml(FIX, [{ from: '2025-01-01T00:00:00Z', dims: [['api', '1']] }]),
  );
  await h.admin('PUT', `/_admin/products/${DROP}`, { dimensions: ['api', 'legacy'] });
  await h.admin('PUT', `/_admin/products/${FIX}`, { dimensions: ['api', 'beta'] });
  await freezeHours(
    h.db.ch,
    h.db.name,
    Array.from({ length: 23 }, (_, i) => hoursAgo(i + 1)),
  );
});

afterAll(async () => {
  for (const s of running) await s.close();
  await h?.close();
});

describe('late usage and plan versions', () => {
  it('bills all 9 units of a dimension when 6 were carried late into an hour whose plan dropped it', async () => {
    const H1 = hoursAgo(8); // plan v1: legacy in force
    const HL = hoursAgo(4); // plan v2: legacy dropped
    const HN = hoursAgo(3);
    await subscribe(h, DROP, 'cust-late');
    await subscribe(h, DROP, 'cust-new');
    await insertWindows(h.db.ch, h.db.name, [
      // 3 units on time in H1.
      {
        productCode: DROP,
        customer: 'cust-late',
        dimension: 'legacy',
        hour: H1,
        micros: 3n * M,
        firstEventAt: H1 + 10 * 60_000,
      },
      // 6 units of H1 and H1+1 that arrived after those hours were frozen: the aggregator carried
      // them into the next open hour, HL, on two partitions (ADR 0002 point 6).
      {
        productCode: DROP,
        customer: 'cust-late',
        dimension: 'legacy',
        hour: HL,
        micros: 4n * M,
        lateMicros: 4n * M,
        firstEventAt: H1 + 40 * 60_000,
        partition: 0,
      },
      {
        productCode: DROP,
        customer: 'cust-late',
        dimension: 'legacy',
        hour: HL,
        micros: 2n * M,
        lateMicros: 2n * M,
        firstEventAt: H1 + HOUR + 5 * 60_000,
        partition: 1,
      },
      // Usage of the dropped dimension that happened after the drop: still held, as before.
      {
        productCode: DROP,
        customer: 'cust-new',
        dimension: 'legacy',
        hour: HN,
        micros: 5n * M,
        firstEventAt: HN + 60_000,
      },
    ]);
    const s = await start();
    const run = await s.runNow();
    expect(run.status, run.error).toBe('done');

    // Every hour of the subscription also has its zero record (AWS asks for one an hour).
    const billed = [...billedMap(await h.billing())].filter(
      ([k, q]) => k.startsWith(`${DROP}|id:cust-late|legacy|`) && q > 0,
    );
    expect(new Map(billed)).toEqual(
      new Map([
        [`${DROP}|id:cust-late|legacy|${iso(H1)}`, 3],
        [`${DROP}|id:cust-late|legacy|${iso(HL)}`, 6],
      ]),
    );
    expect(billed.reduce((sum, [, q]) => sum + q, 0)).toBe(9);

    expect(await record(DROP, 'cust-late', 'legacy', H1)).toMatchObject({
      state: 'accepted',
      quantity: 3,
      usageFromHour: H1,
    });
    const late = await record(DROP, 'cust-late', 'legacy', HL);
    expect(late).toMatchObject({
      state: 'accepted',
      quantity: 6,
      usageFromHour: H1,
      // Priced by the plan version in force where the usage began.
      pricePerUnit: '2',
    });
    expect(late?.usageMicros).toBe(6n * M);

    const onTime = await record(DROP, 'cust-new', 'legacy', HN);
    expect(onTime).toMatchObject({ state: 'held', usageFromHour: HN, attempts: 0 });
    expect(heldReasonOf(onTime?.reason ?? '')).toBe('dimension_not_in_plan');
  });

  it('sends a record held dimension_not_in_plan on the next run after the plan file is fixed, without a restart', async () => {
    const H = hoursAgo(6);
    await subscribe(h, FIX, 'cust-fix');
    await insertWindows(h.db.ch, h.db.name, [
      { productCode: FIX, customer: 'cust-fix', dimension: 'beta', hour: H, micros: 3n * M },
    ]);
    const s = await start();
    await s.runNow();
    const held = await record(FIX, 'cust-fix', 'beta', H);
    expect(held?.state).toBe('held');
    expect(heldReasonOf(held?.reason ?? '')).toBe('dimension_not_in_plan');

    // The seller adds the dimension: the same process sends the frozen record on its next run.
    const fixed = planYaml(FIX, [
      {
        from: '2025-01-01T00:00:00Z',
        dims: [
          ['api', '1'],
          ['beta', '1'],
        ],
      },
    ]);
    await writeFile(join(h.plansDir, 'fix.yaml'), fixed);
    await s.runNow();
    expect(await record(FIX, 'cust-fix', 'beta', H)).toMatchObject({
      state: 'accepted',
      quantity: 3,
      attempts: 1,
    });
    expect(billedMap(await h.billing()).get(`${FIX}|id:cust-fix|beta|${iso(H)}`)).toBe(3);
    let text = await s.metrics.text();
    expect(text).toMatch(/meterstream_submitter_plan_reloads_total\{outcome="loaded"\} 1\b/);
    expect(text).toMatch(/meterstream_submitter_plans_invalid 0\b/);

    // A broken edit next: the plans in use stay (a new `beta` window is sent, not held
    // `no_plan` / `dimension_not_in_plan`), and the metrics say the directory is invalid.
    await writeFile(join(h.plansDir, 'fix.yaml'), `productCode: ${FIX}\nversions: []\n`);
    const H2 = hoursAgo(5);
    await insertWindows(h.db.ch, h.db.name, [
      { productCode: FIX, customer: 'cust-fix', dimension: 'beta', hour: H2, micros: 2n * M },
    ]);
    await s.runNow();
    expect(await record(FIX, 'cust-fix', 'beta', H2)).toMatchObject({
      state: 'accepted',
      quantity: 2,
    });
    text = await s.metrics.text();
    expect(text).toMatch(/meterstream_submitter_plans_invalid 1\b/);
    expect(text).toMatch(/meterstream_submitter_plan_reloads_total\{outcome="invalid"\} 1\b/);
    await writeFile(join(h.plansDir, 'fix.yaml'), fixed);
  });
});
