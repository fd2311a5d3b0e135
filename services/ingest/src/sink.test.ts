import { describe, expect, it } from 'vitest';
import type { KafkaProducer, ProduceMessage } from '@meterstream/kafka';
import { KafkaSink, type OutRecord } from './sink.js';

function fakeProducer(behaviour: (n: number) => Promise<void>): {
  producer: KafkaProducer;
  calls: number[];
} {
  const calls: number[] = [];
  const producer: KafkaProducer = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    send: async (_topic: string, messages: ProduceMessage[]) => {
      calls.push(messages.length);
      await behaviour(messages.length);
      return [];
    },
  };
  return { producer, calls };
}

const rec = (n: number, size = 10): OutRecord[] =>
  Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: Buffer.alloc(size), headers: {} }));

describe('KafkaSink', () => {
  const opts = {
    topic: 't',
    maxInFlightEvents: 100,
    maxSendBytes: 10_000,
    timeoutMs: 1_000,
    lingerMs: 0,
  };
  it('coalesces requests that arrive while a send is in flight', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { producer, calls } = fakeProducer(async () => gate);
    const sink = new KafkaSink(() => producer, opts);
    const first = sink.send(rec(2));
    await new Promise((r) => setImmediate(r));
    const later = [sink.send(rec(3)), sink.send(rec(4))];
    release();
    await Promise.all([first, ...later]);
    expect(calls).toEqual([2, 7]);
  });
  it('splits a request larger than maxSendBytes and resolves after all parts', async () => {
    const { producer, calls } = fakeProducer(async () => undefined);
    const sink = new KafkaSink(() => producer, { ...opts, maxSendBytes: 500 });
    await sink.send(rec(20, 100));
    expect(calls.reduce((a, b) => a + b, 0)).toBe(20);
    expect(Math.max(...calls)).toBeLessThanOrEqual(4);
  });
  it('rejects with a retriable error on failure and on timeout', async () => {
    const boom = fakeProducer(async () => Promise.reject(new Error('boom')));
    const failing = new KafkaSink(() => boom.producer, opts);
    await expect(failing.send(rec(1))).rejects.toMatchObject({
      code: 'KAFKA_UNAVAILABLE',
      retriable: true,
    });
    expect(boom.calls).toEqual([1]);
    const stuck = fakeProducer(() => new Promise(() => undefined));
    const hanging = new KafkaSink(() => stuck.producer, {
      ...opts,
      timeoutMs: 50,
    });
    await expect(hanging.send(rec(1))).rejects.toMatchObject({
      code: 'KAFKA_UNAVAILABLE',
      message: expect.stringMatching(/within 50 ms/) as unknown,
    });
    expect(stuck.calls).toEqual([1]);
  });
  it('replaces the producer after a failed send (new producer id, fresh sequences)', async () => {
    let fail = true;
    const sink = new KafkaSink(
      () =>
        fakeProducer(async () => (fail ? Promise.reject(new Error('cut')) : undefined)).producer,
      opts,
    );
    await sink.start();
    await expect(sink.send(rec(1))).rejects.toMatchObject({ code: 'KAFKA_UNAVAILABLE' });
    fail = false;
    await sink.send(rec(1));
    expect(sink.producerGenerations).toBe(2);
    await sink.send(rec(1));
    expect(sink.producerGenerations).toBe(2);
  });
  it('limits events in flight', () => {
    const sink = new KafkaSink(() => fakeProducer(async () => undefined).producer, opts);
    expect(sink.reserve(60)).toBe(true);
    expect(sink.reserve(60)).toBe(false);
    sink.release(60);
    expect(sink.reserve(500)).toBe(true);
  });
});
