import type { RunningEmulator } from '@meterstream/aws-emulator';
import { test as base } from 'vitest';
import { testClock, type TestClock } from './clock.js';
import { emulatorAdmin, type EmulatorAdmin } from './emulator.js';
import {
  freshDatabase,
  freshTopic,
  testStack,
  type TestDatabase,
  type TestTopic,
} from './fixtures.js';
import { FaultProxy } from './proxy.js';
import type { StackEndpoints } from './stack.js';

/** What {@link stackTest} gives a test; each is made for the test and cleaned up after it. */
export interface StackFixtures {
  /** Where the real stack is. */
  stack: StackEndpoints;
  /** A fresh ClickHouse database, dropped after the test. */
  db: TestDatabase;
  /** A fresh 3-partition topic and group name, deleted after the test. */
  topic: TestTopic;
  /** A fault proxy in front of the broker (up), closed after the test. */
  kafkaProxy: FaultProxy;
  /** A fault proxy in front of ClickHouse's HTTP port (up), closed after the test. */
  clickhouseProxy: FaultProxy;
  /** The test's clock (12:00 UTC on the 15th of this month, then running). */
  clock: TestClock;
  /** A private AWS emulator on a free port, on the test's clock, closed after the test. */
  emulator: RunningEmulator & { admin: EmulatorAdmin };
}

/**
 * `test` with the stack fixtures of integration tests (vitest `test.extend`): name the ones a test
 * needs — `stackTest('…', async ({ db, topic }) => …)` — and only those are made, then cleaned up
 * even when the test fails.
 */
export const stackTest = base.extend<StackFixtures>({
  // eslint-disable-next-line no-empty-pattern -- vitest reads the fixtures a fixture needs from this pattern
  stack: async ({}, use) => {
    await use(await testStack());
  },
  // eslint-disable-next-line no-empty-pattern -- as above
  db: async ({}, use) => {
    const db = await freshDatabase('fx');
    try {
      await use(db);
    } finally {
      await db.drop();
    }
  },
  // eslint-disable-next-line no-empty-pattern -- as above
  topic: async ({}, use) => {
    const topic = await freshTopic('fx');
    try {
      await use(topic);
    } finally {
      await topic.drop().catch(() => undefined);
    }
  },
  kafkaProxy: async ({ stack }, use) => {
    await withProxy(FaultProxy.to(stack.kafkaBrokers[0] ?? ''), use);
  },
  clickhouseProxy: async ({ stack }, use) => {
    await withProxy(FaultProxy.to(stack.clickhouseUrl), use);
  },
  // eslint-disable-next-line no-empty-pattern -- as above
  clock: async ({}, use) => {
    await use(testClock());
  },
  emulator: async ({ clock }, use) => {
    // Loaded on use: only tests that ask for an emulator load it.
    const { startEmulator } = await import('@meterstream/aws-emulator');
    const emulator = await startEmulator({ port: 0, seed: 1 }, { clock });
    try {
      await use(Object.assign(emulator, { admin: emulatorAdmin(emulator.url) }));
    } finally {
      await emulator.close();
    }
  },
});

async function withProxy(proxy: FaultProxy, use: (p: FaultProxy) => Promise<void>): Promise<void> {
  await proxy.up();
  try {
    await use(proxy);
  } finally {
    await proxy.down();
  }
}
