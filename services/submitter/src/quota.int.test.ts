import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SecondCount } from '@meterstream/aws-emulator';
import { testLogger, waitFor } from '@meterstream/testing';
import { applyCarry } from './ledger.js';
import { startSubmitter, type SubmitterHandle } from './start.js';
import {
  SUB,
  billedMap,
  freezeHours,
  hoursAgo,
  insertWindows,
  iso,
  startHarness,
  subscribe,
  workGroup,
  type Harness,
} from './testing/harness.js';

/** AWS's quota of BatchMeterUsage: 10 calls a second per account and region (ADR 0008). */
const RATE = 10;
const HOURS = [hoursAgo(4), hoursAgo(3), hoursAgo(2)];
const CUSTOMERS = 40;

let h: Harness;
const expected = new Map<string, number>();
const running: SubmitterHandle[] = [];

beforeAll(async () => {
  h = await startHarness();
  await freezeHours(h.db.ch, h.db.name, HOURS);
  const windows: Parameters<typeof insertWindows>[2] = [];
  for (let c = 0; c < CUSTOMERS; c++) {
    const customer = `quota-${c}`;
    await subscribe(h, SUB, customer);
    for (const dimension of ['api', 'storage']) {
      let carry = 0n;
      for (const hour of HOURS) {
        const micros = BigInt((c * 5 + hour / 3_600_000) % 7) * 500_000n;
        if (micros > 0n) windows.push({ productCode: SUB, customer, dimension, hour, micros });
        const r = applyCarry(carry, micros);
        carry = r.carryOutMicros;
        expected.set(`${SUB}|id:${customer}|${dimension}|${iso(hour)}`, r.quantity);
      }
    }
  }
  await insertWindows(h.db.ch, h.db.name, windows);
  await h.admin('POST', '/_admin/quota', { ratePerSecond: RATE });
});

afterAll(async () => {
  for (const s of running) await s.close();
  await h?.close();
});

describe('three submitter instances against the 10 requests/s quota', () => {
  it('never make more than 10 BatchMeterUsage calls of the account in a second, through a leave, and bill every key once', async () => {
    const group = workGroup();
    const start = (name: string): Promise<SubmitterHandle> =>
      startSubmitter(
        h.config({
          ...group.settings(name),
          // Three access keys, one account (the emulator's default): one quota for the three.
          MS_AWS_ACCESS_KEY_ID: `AKIDQUOTA${name}`,
          MS_SUBMITTER_AWS_RPS: String(RATE),
          // Two records a call: 240 records make ~120 calls, over ten seconds at the quota.
          MS_SUBMITTER_BATCH_SIZE: '2',
          MS_SUBMITTER_WAVE_SIZE: '20',
        }),
        { logger: testLogger(name) },
      );
    running.push(...(await Promise.all(['A', 'B', 'C'].map(start))));
    const [a, b, c] = running as [SubmitterHandle, SubmitterHandle, SubmitterHandle];
    const accepted = async (): Promise<number> =>
      (await h.store.ledgerAll(HOURS[0])).filter((r) => r.state === 'accepted').length;
    const reached = (share: number): Promise<true> =>
      waitFor(
        `${share * 100} % of the records accepted`,
        async () => ((await accepted()) >= expected.size * share ? true : undefined),
        { timeoutMs: 150_000 },
      );
    await reached(0.4);
    // C leaves mid-work: A and B take its buckets over after the handover wait.
    await c.close();
    await reached(1);
    await a.close();
    await b.close();

    const { seconds } = (await h.admin('GET', '/_admin/quota')) as { seconds: SecondCount[] };
    const calls = seconds.filter((s) => s.operation === 'BatchMeterUsage');
    expect(new Set(calls.map((s) => `${s.account}|${s.region}`)).size).toBe(1);
    const over = calls.filter((s) => s.accepted + s.throttled > RATE);
    expect(over).toEqual([]);
    expect(calls.reduce((n, s) => n + s.throttled, 0)).toBe(0);
    const total = calls.reduce((n, s) => n + s.accepted, 0);
    expect(total).toBeGreaterThanOrEqual(Math.ceil(expected.size / 2));

    // All three sent (the quota was shared, not held by one), and every key was billed once.
    const trail = (await h.admin('GET', '/_admin/cloudtrail')) as {
      events: { accessKeyId: string; eventName: string }[];
    };
    const senders = new Set(
      trail.events.filter((e) => e.eventName === 'BatchMeterUsage').map((e) => e.accessKeyId),
    );
    expect(senders).toEqual(new Set(['AKIDQUOTAA', 'AKIDQUOTAB', 'AKIDQUOTAC']));
    const ledger = await h.store.ledgerAll(HOURS[0]);
    expect(new Set(ledger.map((r) => r.state))).toEqual(new Set(['accepted']));
    const billed = billedMap(await h.billing());
    expect(billed.size).toBe(expected.size);
    for (const [k, q] of expected) expect(billed.get(k), k).toBe(q);
    const busiest = Math.max(...calls.map((s) => s.accepted));
    console.log(
      `quota: ${total} calls in ${calls.length} seconds, at most ${busiest} in one second`,
    );
  }, 240_000);
});
