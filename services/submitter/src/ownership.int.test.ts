import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

let h: Harness;
const HOURS = Array.from({ length: 12 }, (_, i) => hoursAgo(12 - i));
const expected = new Map<string, number>();
const running: SubmitterHandle[] = [];

beforeAll(async () => {
  h = await startHarness();
  await freezeHours(h.db.ch, h.db.name, HOURS);
  const windows: Parameters<typeof insertWindows>[2] = [];
  for (let c = 0; c < 60; c++) {
    const customer = `own-${c}`;
    await subscribe(h, SUB, customer);
    for (const dimension of ['api', 'storage']) {
      let carry = 0n;
      for (const hour of HOURS) {
        const micros = BigInt((c * 7 + hour / 3_600_000) % 23) * 250_000n;
        if (micros > 0n) windows.push({ productCode: SUB, customer, dimension, hour, micros });
        const r = applyCarry(carry, micros);
        carry = r.carryOutMicros;
        expected.set(`${SUB}|id:${customer}|${dimension}|${iso(hour)}`, r.quantity);
      }
    }
  }
  await insertWindows(h.db.ch, h.db.name, windows);
  await h.admin('POST', '/_admin/faults', { latencyMs: 30, throttlingRate: 0.2 });
});

afterAll(async () => {
  for (const s of running) await s.close();
  await h?.close();
});

describe('two submitter instances', () => {
  it('send each key from exactly one instance, through a join and a leave mid-work', async () => {
    const group = workGroup();
    const start = (name: string): Promise<SubmitterHandle> =>
      startSubmitter(
        h.config({
          ...group.settings(name),
          MS_AWS_ACCESS_KEY_ID: `AKID${name}`,
          MS_SUBMITTER_WAVE_SIZE: '50',
          MS_SUBMITTER_CONCURRENCY: '2',
        }),
        { logger: testLogger(name) },
      );
    const a = await start('A');
    running.push(a);
    // Let A work alone for a while, then B joins (rebalance mid-work), then A leaves.
    const progress = async (): Promise<number> =>
      (await h.store.ledgerAll(HOURS[0])).filter((r) => r.state === 'accepted').length;
    const reached = (share: number): Promise<true> =>
      waitFor(`${share * 100} % of the keys accepted`, async () =>
        (await progress()) >= expected.size * share ? true : undefined,
      );
    await reached(0.2);
    const b = await start('B');
    running.push(b);
    await reached(0.6);
    await a.close();
    await reached(1);
    await b.close();

    // Who sent each key, from the emulator's CloudTrail (access key per instance).
    const trail = (await h.admin('GET', '/_admin/cloudtrail')) as {
      events: {
        accessKeyId: string;
        eventName: string;
        record: { requestParameters?: { usageRecords?: Record<string, unknown>[] } };
      }[];
    };
    const senders = new Map<string, Set<string>>();
    for (const e of trail.events) {
      if (e.eventName !== 'BatchMeterUsage') continue;
      for (const r of e.record.requestParameters?.usageRecords ?? []) {
        const k = `${String(r.customerIdentifier)}|${String(r.dimension)}|${String(r.timestamp)}`;
        const set = senders.get(k) ?? new Set<string>();
        set.add(e.accessKeyId);
        senders.set(k, set);
      }
    }
    const both = [...senders.entries()].filter(([, s]) => s.size > 1);
    expect(both).toEqual([]);
    const perInstance = new Map<string, number>();
    for (const s of senders.values())
      for (const x of s) perInstance.set(x, (perInstance.get(x) ?? 0) + 1);
    expect(perInstance.get('AKIDA') ?? 0).toBeGreaterThan(0);
    expect(perInstance.get('AKIDB') ?? 0).toBeGreaterThan(0);
    expect(senders.size).toBe(expected.size);

    const ledger = await h.store.ledgerAll(HOURS[0]);
    expect(new Set(ledger.map((r) => r.state))).toEqual(new Set(['accepted']));
    const billed = billedMap(await h.billing());
    for (const [k, q] of expected) expect(billed.get(k), k).toBe(q);
    expect(
      h.exchanges.filter((e) => JSON.stringify(e.response ?? '').includes('DuplicateRecord')),
    ).toEqual([]);
    console.log('keys sent per instance', Object.fromEntries(perInstance));
  }, 240_000);
});
