import { createKafka } from '@meterstream/kafka';
import { ClickHouse } from '@meterstream/clickhouse';
import { describe, expect } from 'vitest';
import { testLogger } from './fixtures.js';
import { stackTest } from './vitest.js';

let seenDatabase = '';
let seenTopic = '';

describe('stackTest fixtures', () => {
  stackTest('give a fresh database and topic', async ({ db, topic }) => {
    seenDatabase = db.name;
    seenTopic = topic.topic;
    await db.ch.command('CREATE TABLE t (x UInt8) ENGINE = Memory');
    expect(await db.ch.query<{ n: string }>(`SELECT count() AS n FROM ${db.name}.t`)).toEqual([
      { n: '0' },
    ]);
  });

  stackTest('cleaned them up after the test', async ({ stack }) => {
    const ch = new ClickHouse({ url: stack.clickhouseUrl });
    const dbs = await ch.query<{ name: string }>(`SELECT name FROM system.databases`);
    await ch.close();
    expect(seenDatabase).not.toBe('');
    expect(dbs.map((d) => d.name)).not.toContain(seenDatabase);
    const admin = createKafka({
      brokers: stack.kafkaBrokers,
      clientId: 'fx',
      logger: testLogger(),
    }).admin();
    await admin.connect();
    const topics = await admin.listTopics();
    await admin.disconnect();
    expect(topics).not.toContain(seenTopic);
  });

  stackTest(
    'the ClickHouse proxy cuts and restores the connection',
    async ({ clickhouseProxy }) => {
      const ch = new ClickHouse({ url: clickhouseProxy.url });
      expect(await ch.query<{ x: number }>('SELECT 1 AS x')).toEqual([{ x: 1 }]);
      await clickhouseProxy.down();
      await expect(ch.query('SELECT 1 AS x')).rejects.toThrow();
      await clickhouseProxy.up();
      expect(await ch.query<{ x: number }>('SELECT 1 AS x')).toEqual([{ x: 1 }]);
      await ch.close();
    },
  );

  stackTest(
    'a private emulator on the test clock, with its admin API',
    async ({ emulator, clock }) => {
      await emulator.admin('PUT', '/_admin/products/fx-product', { dimensions: ['api'] });
      const products = (await emulator.admin('GET', '/_admin/products')) as unknown;
      expect(JSON.stringify(products)).toContain('fx-product');
      expect(Math.abs(emulator.core.now() - clock.now())).toBeLessThan(60_000);
    },
  );
});
