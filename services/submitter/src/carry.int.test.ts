import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testLogger } from '@meterstream/testing';
import { startSubmitter } from './start.js';
import {
  HOUR,
  M,
  SUB,
  billedMap,
  clock,
  freezeHours,
  hoursAgo,
  insertWindows,
  iso,
  startHarness,
  subscribe,
  type Harness,
} from './testing/harness.js';

// Invariant 5 (rounding loses nothing) across a long idle gap: the carry of a key's last hour
// must reach its next hour however many hours later that is. The emulator's clock and the
// submitter's move together, as in deadline.int.test.ts.

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

/** Runs one submission with both clocks shifted by `shiftMs` from the harness clock. */
async function submitShifted(shiftMs: number): Promise<void> {
  await h.admin('POST', '/_admin/clock', { offsetMs: shiftMs });
  const sub = await startSubmitter(
    h.config({ MS_SUBMITTER_CLOCK_OFFSET_MS: String(clock.offsetMs + shiftMs) }),
    { logger: testLogger('submitter') },
  );
  try {
    const run = await sub.runNow();
    expect(run.status).toBe('done');
  } finally {
    await sub.close();
    await h.admin('POST', '/_admin/clock', { offsetMs: 0 });
  }
}

describe('fractional carry', () => {
  it('survives 100 idle hours: 0.4 units, nothing for 100 hours, then 0.7 bill 1 unit in the later hour', async () => {
    const customer = 'carry-idle';
    const H = hoursAgo(2);
    const LATER = H + 101 * HOUR;
    await subscribe(h, SUB, customer);

    await insertWindows(h.db.ch, h.db.name, [
      { productCode: SUB, customer, dimension: 'api', hour: H, micros: 400_000n },
    ]);
    await freezeHours(h.db.ch, h.db.name, [H]);
    await submitShifted(0);

    // 101 hours later (same month: the clock starts on the 15th), with no record in between.
    await insertWindows(h.db.ch, h.db.name, [
      { productCode: SUB, customer, dimension: 'api', hour: LATER, micros: 700_000n },
    ]);
    await freezeHours(h.db.ch, h.db.name, [LATER]);
    await submitShifted(101 * HOUR);

    const records = (await h.store.ledgerAll(H)).filter(
      (r) => r.customer === customer && r.dimension === 'api',
    );
    const byHour = new Map(records.map((r) => [r.hour, r]));
    expect(byHour.get(H)).toMatchObject({ state: 'accepted', quantity: 0 });
    expect(byHour.get(H)?.carryOutMicros).toBe(400_000n);
    expect(byHour.get(LATER)).toMatchObject({ state: 'accepted', quantity: 1 });
    expect(byHour.get(LATER)?.carryInMicros).toBe(400_000n);
    expect(byHour.get(LATER)?.carryOutMicros).toBe(100_000n);

    const billed = billedMap(await h.billing());
    expect(billed.get(`${SUB}|id:${customer}|api|${iso(LATER)}`)).toBe(1);
    const total = [...billed.entries()]
      .filter(([k]) => k.startsWith(`${SUB}|id:${customer}|api|`))
      .reduce((sum, [, q]) => sum + q, 0);
    expect(total).toBe(1);
    // What was billed plus the pending fraction is exactly the usage: 1.1 units.
    expect(BigInt(total) * M + (byHour.get(LATER)?.carryOutMicros ?? 0n)).toBe(1_100_000n);
  });
});
