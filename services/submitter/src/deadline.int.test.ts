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
  insertWindows,
  iso,
  startHarness,
  subscribe,
  type Harness,
} from './testing/harness.js';

// AWS's month-end close, end to end against a controlled clock: the emulator's clock and the
// submitter's are moved together to an instant around 06:00 UTC on the 1st of the next month,
// whatever the date the suite runs on.

let h: Harness;
const d = new Date(clock.ref);
/** 00:00 UTC on the 1st of the month after the reference instant's. */
const firstOfNext = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
/** The last hour of the reference month: AWS takes it until 06:00 UTC on the 1st, then never. */
const LAST_HOUR = firstOfNext - HOUR;

beforeAll(async () => {
  h = await startHarness();
  await freezeHours(h.db.ch, h.db.name, [LAST_HOUR]);
});

afterAll(async () => {
  await h?.close();
});

/** Runs one submission with both clocks at `atMs` (the harness clock shifted) and returns its calls. */
async function submitAt(atMs: number): Promise<number> {
  const shift = atMs - clock.now();
  await h.admin('POST', '/_admin/clock', { offsetMs: shift });
  const sub = await startSubmitter(
    h.config({ MS_SUBMITTER_CLOCK_OFFSET_MS: String(clock.offsetMs + shift) }),
    { logger: testLogger('submitter') },
  );
  const calls = h.exchanges.length;
  try {
    await sub.runNow();
  } finally {
    await sub.close();
    await h.admin('POST', '/_admin/clock', { offsetMs: 0 });
  }
  return h.exchanges.length - calls;
}

describe('the previous month closes at 06:00 UTC on the 1st', () => {
  it('sends the last hour of the month at 05:30 on the 1st, and AWS accepts it', async () => {
    await subscribe(h, SUB, 'month-early');
    await insertWindows(h.db.ch, h.db.name, [
      {
        productCode: SUB,
        customer: 'month-early',
        dimension: 'api',
        hour: LAST_HOUR,
        micros: 6n * M,
      },
    ]);
    expect(await submitAt(firstOfNext + 5.5 * HOUR)).toBeGreaterThan(0);
    const r = (await h.store.ledgerAll(LAST_HOUR)).find(
      (x) => x.customer === 'month-early' && x.dimension === 'api',
    );
    expect(r).toMatchObject({ state: 'accepted', quantity: 6 });
    expect(billedMap(await h.billing()).get(`${SUB}|id:month-early|api|${iso(LAST_HOUR)}`)).toBe(6);
  });

  it('expires it at 07:30 on the 1st without calling AWS, with the reason', async () => {
    await subscribe(h, SUB, 'month-late');
    await insertWindows(h.db.ch, h.db.name, [
      {
        productCode: SUB,
        customer: 'month-late',
        dimension: 'api',
        hour: LAST_HOUR,
        micros: 4n * M,
      },
    ]);
    expect(await submitAt(firstOfNext + 7.5 * HOUR)).toBe(0);
    const r = (await h.store.ledgerAll(LAST_HOUR)).find(
      (x) => x.customer === 'month-late' && x.dimension === 'api',
    );
    expect(r).toMatchObject({ state: 'expired', quantity: 4 });
    expect(r?.reason).toMatch(/past the AWS deadline/);
    expect(billedMap(await h.billing()).has(`${SUB}|id:month-late|api|${iso(LAST_HOUR)}`)).toBe(
      false,
    );
  });
});
