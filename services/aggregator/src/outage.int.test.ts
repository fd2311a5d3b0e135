import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { testLogger } from '@meterstream/testing';
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

/** A TCP proxy in front of ClickHouse that can be taken down (every connection cut) and back up. */
class Proxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;
  /** ClickHouse's HTTP port, set before the first `up()`. */
  upstreamPort = 0;

  async up(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => {
      const upstream = connect({ host: '127.0.0.1', port: this.upstreamPort });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async down(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const sock of this.sockets) sock.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

let c: Case | undefined;
let agg: Aggregator | undefined;
const proxy = new Proxy();
afterEach(async () => {
  await proxy.up().catch(() => undefined);
  await agg?.close();
  await proxy.down();
  await c?.close();
  agg = undefined;
  c = undefined;
});

describe('aggregator: ClickHouse outage', () => {
  it('pauses and retries while ClickHouse is unreachable, then gives the same totals', async () => {
    c = await setupCase('aggoutage', 3);
    let shift = 0;
    const load = makeLoad(c, 100_000, 0.05);
    proxy.upstreamPort = Number(new URL(c.stack.clickhouseUrl).port);
    await proxy.up();
    agg = await startAggregator(
      testConfig(c, {
        clickhouse: {
          url: `http://127.0.0.1:${proxy.port}`,
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
    await proxy.down();
    await produce(c, load.messages.slice(half));
    await sleep(5000);
    const during = await agg.metrics.metrics.text();
    expect(during).toMatch(/clickhouse_failures_total\{op="[a-z-]+"\} [1-9]/);
    await proxy.up();
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
