import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '@meterstream/runtime';
import {
  FaultProxy,
  freshTopic,
  testKafkaClient,
  testStack,
  waitFor,
  type TestTopic,
} from '@meterstream/testing';
import {
  analyticsEvent,
  post,
  readAll,
  startTestIngest,
  type TestIngest,
} from './testing/harness.js';

/**
 * Starts ingest on a fresh topic behind a fault proxy in front of the shared broker. Every
 * connection of its client, also to the broker address advertised in metadata, goes through the
 * proxy: down() is a broker outage for this ingest and for nobody else. `close()` undoes it all.
 */
async function ingestBehindProxy(
  name: string,
  o: { requestTimeoutMs: number; produceTimeoutMs: number; retryAfterS: number },
): Promise<{ t: TestTopic; ing: TestIngest; proxy: FaultProxy; close(): Promise<void> }> {
  const proxy = FaultProxy.to((await testStack()).kafkaBrokers[0]!);
  await proxy.up();
  const t = await freshTopic(name, 3);
  const kafka = await testKafkaClient(`${name}-test`, {
    brokers: [`127.0.0.1:${proxy.port}`],
    connectionTimeoutMs: 1000,
    requestTimeoutMs: o.requestTimeoutMs,
    route: proxy.route,
  });
  const ing = await startTestIngest({
    topic: t.topic,
    kafka,
    env: {
      MS_INGEST_PRODUCE_TIMEOUT_MS: String(o.produceTimeoutMs),
      MS_INGEST_RETRY_AFTER_S: String(o.retryAfterS),
    },
  });
  return {
    t,
    ing,
    proxy,
    close: async () => {
      await ing.close();
      await proxy.down();
      await t.drop();
    },
  };
}

describe('broker outage', () => {
  let t: TestTopic;
  let ing: TestIngest;
  let proxy: FaultProxy;
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    ({ t, ing, proxy, close } = await ingestBehindProxy('ingest-down', {
      requestTimeoutMs: 5000,
      produceTimeoutMs: 3000,
      retryAfterS: 2,
    }));
  });
  afterAll(async () => {
    await close?.();
  });

  it('answers only 202 or 503 + Retry-After while the broker is down, and every 202 event is in Kafka afterwards', async () => {
    const results: { status: number; ids: string[]; retryAfter: string | null; phase: string }[] =
      [];
    let phase = 'up';
    let stop = false;
    let seq = 0;
    const worker = async (w: number): Promise<void> => {
      while (!stop) {
        const batch = Array.from({ length: 50 }, () => ({
          id: `down-${w}-${seq++}`,
          ...analyticsEvent(seq),
        }));
        const started = phase;
        const res = await post(ing.url, ing.key, JSON.stringify(batch));
        results.push({
          status: res.status,
          ids: batch.map((b) => b.id),
          retryAfter: res.headers.get('retry-after'),
          phase: started,
        });
        if (res.status !== 202) await sleep(100);
      }
    };
    const workers = [0, 1, 2, 3].map(worker);
    await sleep(1500);
    phase = 'down';
    await proxy.down();
    await sleep(7000);
    phase = 'restarted';
    await proxy.up();
    // Keep loading until the service has recovered and acknowledged more.
    const deadline = Date.now() + 45_000;
    while (
      Date.now() < deadline &&
      results.filter((r) => r.phase === 'restarted' && r.status === 202).length < 20
    )
      await sleep(200);
    stop = true;
    await Promise.all(workers);

    const statuses = new Set(results.map((r) => r.status));
    expect([...statuses].every((s) => s === 202 || s === 503)).toBe(true);
    const unavailable = results.filter((r) => r.status === 503);
    expect(unavailable.length).toBeGreaterThan(0);
    expect(unavailable.every((r) => r.retryAfter === '2')).toBe(true);
    expect(results.filter((r) => r.phase === 'up' && r.status === 202).length).toBeGreaterThan(0);
    expect(
      results.filter((r) => r.phase === 'restarted' && r.status === 202).length,
    ).toBeGreaterThanOrEqual(20);

    const inKafka = new Set((await readAll(t.topic, ing.registry)).map((g) => g.event.id));
    const acked = results.filter((r) => r.status === 202).flatMap((r) => r.ids);
    const missing = acked.filter((id) => !inKafka.has(id));
    expect(missing).toEqual([]);
    expect(acked.length).toBeGreaterThan(1000);
  });
});

/**
 * ADR 0003's hazard: a batch the broker wrote but whose answer was lost fails on the client; if
 * the next, different batch went out with the same producer id and sequence numbers, the broker
 * would take it for a re-send of the first, drop it and answer success — a 202 for events that
 * are not in Kafka. Ingest replaces its producer after a failed send, so the next batch has a new
 * producer id.
 */
describe('a send written by the broker whose answer was lost', () => {
  let t: TestTopic;
  let ing: TestIngest;
  let proxy: FaultProxy;
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    ({ t, ing, proxy, close } = await ingestBehindProxy('ingest-lost-ack', {
      requestTimeoutMs: 1500,
      produceTimeoutMs: 2000,
      retryAfterS: 1,
    }));
  });
  afterAll(async () => {
    await close?.();
  });

  /** 21 events over the same 7 keys (so over the same partitions, in the same counts) each time. */
  const batch = (name: string): { id: string }[] =>
    Array.from({ length: 21 }, (_, i) => ({ id: `${name}-${i}`, ...analyticsEvent(i) }));
  const inKafka = async (): Promise<Set<string>> =>
    new Set((await readAll(t.topic, ing.registry)).map((g) => g.event.id));

  it('does not make the next batch vanish: every 202 event is in Kafka', async () => {
    const first = batch('first');
    expect((await post(ing.url, ing.key, JSON.stringify(first))).status).toBe(202);
    // The broker gets the next batch and writes it; its answer never arrives.
    proxy.mute();
    const lost = batch('lost');
    expect((await post(ing.url, ing.key, JSON.stringify(lost))).status).toBe(503);
    await waitFor('the unanswered batch written', async () => {
      const ids = await inKafka();
      return lost.every((e) => ids.has(e.id)) ? true : undefined;
    });
    // The client gives up on it (its retries of the batch were not answered either); then the
    // connections die.
    await waitFor('the failed send', async () =>
      /produce_seconds_count\{outcome="error"\} [1-9]/.test(await ing.metrics.text())
        ? true
        : undefined,
    );
    await proxy.down();
    await proxy.up();
    // The next batch, with the same keys and sizes: 503 while the client recovers, then 202.
    const next = batch('next');
    let status = 0;
    for (let i = 0; i < 60 && status !== 202; i++) {
      status = (await post(ing.url, ing.key, JSON.stringify(next))).status;
      if (status !== 202) await sleep(500);
    }
    expect(status).toBe(202);
    const ids = await inKafka();
    expect([...first, ...next].filter((e) => !ids.has(e.id))).toEqual([]);
    expect(ing.handle.sink.producerGenerations).toBeGreaterThanOrEqual(2);
  });
});
