import { describe, expect, it } from 'vitest';
import type { KafkaProducer, ProduceMessage, SchemaRegistry } from '@meterstream/kafka';
import { testLogger } from '@meterstream/testing';
import type { ClickHouse } from '@meterstream/clickhouse';
import { KafkaSubmissionGateway } from './gateway.js';
import type { Submission } from './model.js';

/** Registers nothing remotely: ids by subject, and "encodes" as JSON to inspect what was sent. */
function fakeRegistry(): SchemaRegistry & { subjects: string[] } {
  const subjects: string[] = [];
  return {
    subjects,
    register: async (_schema: unknown, opts: { subject: string }) => {
      subjects.push(opts.subject);
      return { id: subjects.length };
    },
    encode: async (id: number, value: unknown) => Buffer.from(JSON.stringify({ id, value })),
  } as unknown as SchemaRegistry & { subjects: string[] };
}

const H = Date.UTC(2026, 10, 26, 10);
const submission: Submission = {
  id: '11111111-2222-4333-8444-555555555555',
  actor: 'olga',
  productCode: 'demo-platform',
  hour: new Date(H),
  at: new Date(H + 60_000),
  lines: [
    {
      customer: '111122223333',
      customerKind: 'account',
      licenseArn: 'arn:aws:license-manager::1:license:l-a',
      dimension: 'seats',
      quantity: '4',
      quantityMicros: 4_000_000n,
      eventId: 'console:s:0',
    },
    {
      customer: '111122223333',
      customerKind: 'account',
      licenseArn: 'arn:aws:license-manager::1:license:l-a',
      dimension: 'compute_hours',
      quantity: '0.5',
      quantityMicros: 500_000n,
      eventId: 'console:s:1',
    },
    {
      customer: 'cust-b',
      customerKind: 'identifier',
      licenseArn: '',
      dimension: 'seats',
      quantity: '1',
      quantityMicros: 1_000_000n,
      eventId: 'console:s:2',
    },
  ],
};

describe('KafkaSubmissionGateway', () => {
  it('sends usage events then one FreezeCommand per customer, in one send, keyed per customer', async () => {
    const registry = fakeRegistry();
    const sends: { topic: string; messages: ProduceMessage[] }[] = [];
    const producer = {
      send: async (topic: string, messages: ProduceMessage[]) => {
        sends.push({ topic, messages });
        return [];
      },
    } as unknown as KafkaProducer;
    const gw = new KafkaSubmissionGateway({
      producer,
      registry,
      topic: 'usage.events',
      submitterUrl: 'http://127.0.0.1:9',
      ch: { query: async () => [] } as unknown as ClickHouse,
      database: 'meterstream',
      logger: testLogger(),
      followUpMs: 0,
    });
    await gw.send(submission);
    await gw.close();
    expect(registry.subjects).toEqual([
      'usage.events-value',
      'usage.events-io.meterstream.FreezeCommand',
    ]);
    expect(sends).toHaveLength(1);
    expect(sends[0]?.topic).toBe('usage.events');
    const msgs = sends[0]?.messages ?? [];
    const decoded = msgs.map((m) => ({
      key: String(m.key),
      kind: String(m.headers?.['ms-kind']),
      ...(JSON.parse(String(m.value)) as { id: number; value: Record<string, unknown> }),
    }));
    expect(decoded.map((d) => [d.key, d.kind, d.id])).toEqual([
      ['demo-platform|111122223333', 'usage', 1],
      ['demo-platform|111122223333', 'usage', 1],
      ['demo-platform|cust-b', 'usage', 1],
      ['demo-platform|111122223333', 'freeze', 2],
      ['demo-platform|cust-b', 'freeze', 2],
    ]);
    expect(decoded[0]?.value).toEqual({
      id: 'console:s:0',
      productCode: 'demo-platform',
      licenseArn: 'arn:aws:license-manager::1:license:l-a',
      customerIdentifier: null,
      customerAwsAccountId: '111122223333',
      dimension: 'seats',
      quantity: '4',
      timestamp: H + 60_000,
      allocations: [],
      source: 'console',
      actor: 'olga',
      attributes: { submissionId: submission.id },
    });
    expect(decoded[2]?.value).toMatchObject({
      customerIdentifier: 'cust-b',
      customerAwsAccountId: null,
      licenseArn: null,
    });
    expect(decoded[3]?.value).toEqual({
      requestId: `console:${submission.id}:0`,
      productCode: 'demo-platform',
      customer: '111122223333',
      customerKind: 'account',
      dimensions: ['seats', 'compute_hours'],
      hour: H,
      requestedBy: 'olga',
      requestedAt: H + 60_000,
    });
  });

  it('turns a Kafka failure into a retriable error and refuses sends after close', async () => {
    const producer = {
      send: async () => {
        throw Object.assign(new Error('broker down'), { name: 'KafkaJSConnectionError' });
      },
    } as unknown as KafkaProducer;
    const gw = new KafkaSubmissionGateway({
      producer,
      registry: fakeRegistry(),
      topic: 't',
      submitterUrl: 'http://127.0.0.1:9',
      ch: { query: async () => [] } as unknown as ClickHouse,
      database: 'meterstream',
      logger: testLogger(),
    });
    await expect(gw.send(submission)).rejects.toMatchObject({
      code: 'KAFKA_UNAVAILABLE',
      retriable: true,
    });
    await gw.close();
    await expect(gw.send(submission)).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });
});
