import { afterEach, describe, expect, it } from 'vitest';
import { FaultProxy, testLogger } from '@meterstream/testing';
import { startAggregator, type Aggregator } from './start.js';
import { HOUR_MS } from './hours.js';
import {
  duplicateWindows,
  makeLoad,
  produce,
  setupCase,
  sleep,
  sortedEntries,
  testConfig,
  waitAllFrozen,
  waitConsumed,
  windowTotals,
  type Case,
} from './testing/harness.js';

let c: Case | undefined;
let agg: Aggregator | undefined;
let proxy: FaultProxy | undefined;
afterEach(async () => {
  await proxy?.up().catch(() => undefined);
  await agg?.close();
  await proxy?.down();
  proxy = undefined;
  await c?.close();
  agg = undefined;
  c = undefined;
});

describe('aggregator: ClickHouse outage', () => {
  it('pauses and retries while ClickHouse is unreachable, then gives the same totals', async () => {
    c = await setupCase('aggoutage', 3);
    let shift = 0;
    const load = makeLoad(c, 100_000, 0.05);
    const chProxy = FaultProxy.to(c.stack.clickhouseUrl);
    proxy = chProxy;
    await chProxy.up();
    agg = await startAggregator(
      testConfig(c, {
        clickhouse: {
          url: chProxy.url,
          database: c.db.name,
          topology: { kind: 'single' },
          requestTimeoutMs: 5000,
        },
      }),
      { logger: testLogger('agg'), now: () => Date.now() + shift },
    );
    const half = load.messages.length / 2;
    await produce(c, load.messages.slice(0, half));
    await sleep(800);
    await chProxy.down();
    await produce(c, load.messages.slice(half));
    await sleep(5000);
    const during = await agg.metrics.metrics.text();
    expect(during).toMatch(/clickhouse_failures_total\{op="[a-z-]+"\} [1-9]/);
    await chProxy.up();
    await waitConsumed(c.db.ch, c.db.name, load.uniqueEvents);
    shift = 2 * HOUR_MS; // lets the idle fallback freeze the current hour too
    await waitAllFrozen(c.db.ch, c.db.name, load.uniqueEvents);
    expect(sortedEntries(await windowTotals(c.db.ch, c.db.name))).toEqual(
      sortedEntries(load.expected),
    );
    expect(await duplicateWindows(c.db.ch, c.db.name)).toBe(0);
    expect(agg.isReady()).toBe(true);
  }, 240_000);
});
