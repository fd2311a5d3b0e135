import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testLogger } from '@meterstream/testing';
import { TABLES } from './migrations.js';
import { startSubmitter, type SubmitterHandle } from './start.js';
import {
  M,
  SUB,
  USAGE_PARTITIONS,
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

// Issue 13, item 2: one key's events on two partitions of the usage topic (two producers with
// different partitioners) give one window per partition; all of them are usage.

let h: Harness;
let sub: SubmitterHandle | undefined;

beforeAll(async () => {
  h = await startHarness();
  sub = await startSubmitter(h.config(), { logger: testLogger('submitter') });
});

afterAll(async () => {
  await sub?.close();
  await h?.close();
});

const billedKey = (customer: string, hour: number): string =>
  `${SUB}|id:${customer}|api|${iso(hour)}`;

/** Marks `hour` frozen on one partition only, as that partition's aggregator owner does. */
async function freezeOn(partition: number, hour: number): Promise<void> {
  const now = Math.floor(clock.now() / 1000);
  await h.db.ch.insert(TABLES.windowFreezes.in(h.db.name), [
    {
      kafka_partition: partition,
      hour: hour / 1000,
      frozen_at: now,
      watermark: now,
      kafka_offset: 0,
      owner: 'test',
    },
  ]);
}

describe('submitter: windows of one key on several partitions', () => {
  it('bills the sum of the windows of every partition for a key and hour', async () => {
    const H = hoursAgo(4);
    await subscribe(h, SUB, 'cust-two');
    await insertWindows(h.db.ch, h.db.name, [
      { productCode: SUB, customer: 'cust-two', dimension: 'api', hour: H, micros: 39n * M },
      {
        productCode: SUB,
        customer: 'cust-two',
        dimension: 'api',
        hour: H,
        micros: 44n * M,
        partition: 1,
      },
    ]);
    await freezeHours(h.db.ch, h.db.name, [H]);
    await sub?.runNow();
    const r = (await h.store.ledgerAll(H)).find(
      (x) => x.customer === 'cust-two' && x.dimension === 'api' && x.hour === H,
    );
    expect(r).toMatchObject({ state: 'accepted', quantity: 83, usageMicros: 83n * M });
    expect(billedMap(await h.billing()).get(billedKey('cust-two', H))).toBe(83);
  });

  it('waits for every partition to close the hour before freezing the quantity', async () => {
    const H = hoursAgo(3);
    await subscribe(h, SUB, 'cust-lag');
    // Partition 0 is ahead: it wrote its window and froze H; partition 1 has not yet.
    await insertWindows(h.db.ch, h.db.name, [
      { productCode: SUB, customer: 'cust-lag', dimension: 'api', hour: H, micros: 39n * M },
    ]);
    await freezeOn(0, H);
    await sub?.runNow();
    const early = (await h.store.ledgerAll(H)).find(
      (x) => x.customer === 'cust-lag' && x.dimension === 'api' && x.hour === H,
    );
    expect(early).toBeUndefined();
    // Partition 1 catches up: its window first, then its freeze.
    await insertWindows(h.db.ch, h.db.name, [
      {
        productCode: SUB,
        customer: 'cust-lag',
        dimension: 'api',
        hour: H,
        micros: 44n * M,
        partition: 1,
      },
    ]);
    await freezeOn(1, H);
    await sub?.runNow();
    const r = (await h.store.ledgerAll(H)).find(
      (x) => x.customer === 'cust-lag' && x.dimension === 'api' && x.hour === H,
    );
    expect(r).toMatchObject({ state: 'accepted', quantity: 83 });
    expect(billedMap(await h.billing()).get(billedKey('cust-lag', H))).toBe(83);
  });
});

describe('submitter: usage topic partition count', () => {
  it.each([USAGE_PARTITIONS + 1, USAGE_PARTITIONS - 1])(
    'refuses to start when MS_USAGE_TOPIC_PARTITIONS is %i and the topic has 2',
    async (configured) => {
      await expect(
        startSubmitter(h.config({ MS_USAGE_TOPIC_PARTITIONS: String(configured) }), {
          logger: testLogger('submitter'),
        }),
      ).rejects.toThrow(
        `Kafka topic ${h.topic.topic} has ${USAGE_PARTITIONS} partitions but MS_USAGE_TOPIC_PARTITIONS is ${configured}`,
      );
    },
  );
});
