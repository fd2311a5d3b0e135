import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { MeterstreamError } from '@meterstream/errors';
import { Metrics, createLogger } from '@meterstream/observability';
import type { UsageEvent } from '@meterstream/schemas';
import { KeyStore, newKey, writeKeyFile } from './keys.js';
import type { PlanLookup } from './plans.js';
import { ingestEnvSchema } from './env.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, buildServer } from './server.js';
import type { EventSink, OutRecord } from './sink.js';

const silent = createLogger('test', { level: 'silent' });
const NOW = Date.parse('2026-11-26T12:00:00Z');
const ARN = 'arn:aws:license-manager::123456789012:license:l-abc';

const plans: PlanLookup = {
  resolveProduct: (ref) =>
    ref === 'analytics'
      ? { productCode: 'analytics', customerIdStyle: 'customerIdentifier' }
      : ref === 'platform' || ref === ARN
        ? { productCode: 'platform', licenseArn: ARN, customerIdStyle: 'customerAwsAccountId' }
        : undefined,
  hasDimension: (code, dim) => (code === 'analytics' ? dim === 'api_calls' : dim === 'seats'),
};

class MemorySink implements EventSink {
  sent: OutRecord[] = [];
  fail = false;
  limit = Infinity;
  inFlight = 0;
  reserve(n: number): boolean {
    if (this.inFlight + n > this.limit) return false;
    this.inFlight += n;
    return true;
  }
  release(n: number): void {
    this.inFlight -= n;
  }
  async send(records: OutRecord[]): Promise<void> {
    if (this.fail) throw new MeterstreamError('KAFKA_UNAVAILABLE', 'down');
    this.sent.push(...records);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'ingest-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function setup(config: Partial<Parameters<typeof buildServer>[0]['config']> = {}) {
  const file = join(dir, `keys-${Math.random()}.json`);
  const all = newKey('acme', ['analytics', 'platform']);
  const platformOnly = newKey('acme', ['platform']);
  await writeKeyFile(file, { version: 1, keys: [all.stored, platformOnly.stored] });
  const keys = new KeyStore(file);
  await keys.load();
  const sink = new MemorySink();
  const app = buildServer({
    logger: silent,
    metrics: new Metrics('meterstream_ingest', { defaultMetrics: false }),
    config: {
      bodyLimitBytes: 10_000,
      maxEventsPerRequest: 10,
      maxEventAgeMs: 86_400_000,
      maxEventSkewMs: 60_000,
      retryAfterSeconds: 3,
      maxEventBytes: 1_000,
      ...config,
    },
    keys,
    plans,
    sink,
    encode: (ev: UsageEvent) => Buffer.from(JSON.stringify(ev)),
    ready: () => true,
    now: () => NOW,
    newId: () => 'new-id',
  });
  const inject = (body: unknown, opts: { key?: string | null; type?: string } = {}) =>
    app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: {
        'content-type': opts.type ?? 'application/json',
        ...(opts.key === null ? {} : { authorization: `Bearer ${opts.key ?? all.secret}` }),
      },
      payload: typeof body === 'string' ? body : JSON.stringify(body),
    });
  return { app, sink, keys, all, platformOnly, inject };
}

const ev = (extra: Record<string, unknown> = {}) => ({
  productCode: 'analytics',
  customerIdentifier: 'c1',
  dimension: 'api_calls',
  quantity: '2',
  timestamp: '2026-11-26T11:59:00Z',
  ...extra,
});

describe('POST /v1/events (in-process)', () => {
  it('answers 202 with ids, normalizes and keys the records', async () => {
    const { inject, sink } = await setup();
    const res = await inject([
      ev({ id: 'a' }),
      {
        licenseArn: ARN,
        customerAwsAccountId: '123456789012',
        dimension: 'seats',
        quantity: 1,
        timestamp: '2026-11-26T11:00:00Z',
      },
    ]);
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: 2, ids: ['a', 'new-id'] });
    expect(sink.sent.map((r) => r.key)).toEqual(['analytics|c1', 'platform|123456789012']);
    expect(sink.sent[0]!.headers).toEqual({ 'ms-kind': 'usage' });
    const second = JSON.parse(sink.sent[1]!.value.toString()) as UsageEvent;
    expect(second).toMatchObject({
      productCode: 'platform',
      licenseArn: ARN,
      source: 'ingest/acme',
    });
    expect(second.actor).toMatch(/^key:[0-9a-f]{16}$/);
    expect(sink.inFlight).toBe(0);
  });

  it('rejects the whole batch with reasons per index, producing nothing', async () => {
    const { inject, sink } = await setup();
    const res = await inject([
      ev({ id: 'ok' }),
      ev({ dimension: 'nope' }),
      ev({ quantity: '1e5' }),
      ev({ id: 'ok' }),
    ]);
    expect(res.statusCode).toBe(422);
    const body = res.json<{ errors: { index: number; reasons: { field: string }[] }[] }>();
    expect(body.errors.map((e) => [e.index, e.reasons[0]!.field])).toEqual([
      [1, 'dimension'],
      [2, 'quantity'],
      [3, 'id'],
    ]);
    expect(sink.sent).toEqual([]);
  });

  it('401 without or with a bad key, 403 out of scope, 415, 413, 400', async () => {
    const { inject, platformOnly } = await setup({ bodyLimitBytes: 2_000 });
    expect((await inject(ev(), { key: null })).statusCode).toBe(401);
    expect((await inject(ev(), { key: 'msk_0000000000000000_' + 'A'.repeat(43) })).statusCode).toBe(
      401,
    );
    expect((await inject(ev(), { key: platformOnly.secret })).statusCode).toBe(403);
    expect((await inject(ev(), { type: 'text/csv' })).statusCode).toBe(415);
    expect(
      (
        await inject([
          ev({ attributes: { pad: 'x'.repeat(1000) } }),
          ev({ attributes: { pad: 'y'.repeat(1000) } }),
        ])
      ).statusCode,
    ).toBe(413);
    expect(
      (await inject(Array.from({ length: 11 }, (_, i) => ev({ id: `i${i}` })))).statusCode,
    ).toBe(413);
    expect((await inject('{"a":')).statusCode).toBe(400);
    expect((await inject('', { type: 'application/x-ndjson' })).statusCode).toBe(400);
  });

  it('422 for an event too large for Kafka', async () => {
    const { inject, sink } = await setup();
    const res = await inject([
      ev({ id: 'a' }),
      ev({ id: 'b', attributes: { a: 'x'.repeat(1000) } }),
    ]);
    expect(res.statusCode).toBe(422);
    expect(res.json<{ errors: { index: number }[] }>().errors.map((e) => e.index)).toEqual([1]);
    expect(sink.sent).toEqual([]);
  });

  it('503 with Retry-After and the ids when overloaded or when Kafka fails', async () => {
    const { inject, sink } = await setup();
    sink.limit = 0;
    let res = await inject(ev());
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('3');
    sink.limit = Infinity;
    sink.fail = true;
    res = await inject(ev({ id: 'x' }));
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: { code: 'KAFKA_UNAVAILABLE' }, ids: ['x'] });
    expect(sink.inFlight).toBe(0);
  });

  it('serves /healthz, /readyz, /metrics', async () => {
    const { app } = await setup();
    expect((await app.inject('/healthz')).statusCode).toBe(200);
    expect((await app.inject('/readyz')).statusCode).toBe(200);
    expect((await app.inject('/metrics')).body).toContain('meterstream_ingest_inflight_events 0');
  });
});

describe('POST /v1/events reads the body strictly (README: quantity, UTF-8, one value per key)', () => {
  type Answer = {
    error: { code: string; message: string };
    rejected?: number;
    errors?: { index: number; reasons: { field: string; message: string }[] }[];
  };
  async function post(payload: string | Buffer, type = 'application/json') {
    const s = await setup();
    const res = await s.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { 'content-type': type, authorization: `Bearer ${s.all.secret}` },
      payload,
    });
    return { status: res.statusCode, body: res.json<Answer>(), sink: s.sink };
  }
  /** One valid event as JSON text with `quantity` replaced by a raw JSON literal. */
  const withQuantity = (literal: string, extra: Record<string, unknown> = {}): string =>
    JSON.stringify(ev({ quantity: '@Q', ...extra })).replace('"@Q"', literal);
  const fieldsOf = (b: Answer) => b.errors?.map((e) => [e.index, e.reasons.map((r) => r.field)]);

  it('rejects JSON-number quantities with an exponent or > 15 significant digits, as typed', async () => {
    const body = `[${[
      withQuantity('1e3', { id: 'e' }),
      withQuantity('1E3', { id: 'E' }),
      withQuantity('1.000000000000000000000000000001', { id: 'long' }),
      JSON.stringify(
        ev({ id: 'alloc', quantity: '2.5', allocations: [{ quantity: '@A', tags: { t: 'x' } }] }),
      ).replace('"@A"', '25e-1'),
      withQuantity('12.5', { id: 'fine' }),
    ].join(',')}]`;
    const { status, body: answer, sink } = await post(body);
    expect(status).toBe(422);
    expect(fieldsOf(answer)).toEqual([
      [0, ['quantity']],
      [1, ['quantity']],
      [2, ['quantity']],
      [3, ['allocations[0].quantity']],
    ]);
    expect(answer.errors![0]!.reasons[0]!.message).toMatch(/15 significant digits and no exponent/);
    expect(sink.sent).toEqual([]);
  });

  it('accepts JSON-number quantities that a double keeps as typed', async () => {
    const body = `[${withQuantity('12.5', { id: 'a' })},${withQuantity('1.50000000000000000000', { id: 'b' })},${withQuantity('123456789.012345', { id: 'c' })}]`;
    const { status, sink } = await post(body);
    expect(status).toBe(202);
    expect(sink.sent.map((r) => (JSON.parse(r.value.toString()) as UsageEvent).quantity)).toEqual([
      '12.5',
      '1.5',
      '123456789.012345',
    ]);
  });

  it('checks JSON-number quantities in NDJSON and CloudEvents too', async () => {
    const nd = await post(
      `${withQuantity('1', { id: 'a' })}\n${withQuantity('1e3', { id: 'b' })}\n`,
      'application/x-ndjson',
    );
    expect(nd.status).toBe(422);
    expect(fieldsOf(nd.body)).toEqual([[1, ['quantity']]]);
    const ce = (q: string, id: string) =>
      `{"specversion":"1.0","type":"io.meterstream.usage","id":"${id}","source":"s","data":${withQuantity(q)}}`;
    const batch = await post(
      `[${ce('3', 'x')},${ce('3E0', 'y')}]`,
      'application/cloudevents-batch+json',
    );
    expect(batch.status).toBe(422);
    expect(fieldsOf(batch.body)).toEqual([[1, ['quantity']]]);
    const one = await post(ce('1.0000000000000001', 'z'), 'application/cloudevents+json');
    expect(one.status).toBe(422);
    expect(fieldsOf(one.body)).toEqual([[0, ['quantity']]]);
  });

  it('rejects invalid UTF-8 with 422 naming the event and the byte, never replacing it', async () => {
    const good = Buffer.from(JSON.stringify(ev({ id: 'a' })));
    const [before, after] = JSON.stringify(ev({ id: 'b', customerIdentifier: 'c@' })).split('@');
    const bad = Buffer.concat([
      Buffer.from(before!),
      Buffer.from([0xc3, 0x28]),
      Buffer.from(after!),
    ]);
    const array = await post(
      Buffer.concat([Buffer.from('['), good, Buffer.from(','), bad, Buffer.from(']')]),
    );
    expect(array.status).toBe(422);
    expect(array.body.errors).toEqual([
      {
        index: 1,
        reasons: [
          {
            field: '',
            message: `contains invalid UTF-8 (byte ${2 + good.length + before!.length} of the body); send UTF-8 text`,
          },
        ],
      },
    ]);
    expect(array.sink.sent).toEqual([]);

    const nd = await post(
      Buffer.concat([good, Buffer.from('\n\n'), bad, Buffer.from('\n')]),
      'application/x-ndjson',
    );
    expect(nd.status).toBe(422);
    expect(fieldsOf(nd.body)).toEqual([[1, ['']]]);

    // Outside any event the body cannot be read at all.
    const outside = await post(
      Buffer.concat([Buffer.from('['), good, Buffer.from([0xff]), Buffer.from(']')]),
    );
    expect(outside.status).toBe(400);
    expect(outside.body.error.message).toBe(
      `malformed JSON: invalid UTF-8 at byte ${1 + good.length}`,
    );
  });

  it('rejects unpaired surrogate escapes, accepts escaped pairs', async () => {
    const text = (s: string) =>
      JSON.stringify(ev({ id: 'a', attributes: { note: '@' } })).replace('"@"', `"${s}"`);
    const lone = await post(text('x\\ud800'));
    expect(lone.status).toBe(422);
    expect(lone.body.errors).toEqual([
      {
        index: 0,
        reasons: [
          {
            field: 'attributes.note',
            message: 'contains an unpaired UTF-16 surrogate (\\ud800): not valid Unicode text',
          },
        ],
      },
    ]);
    const low = await post(`[${text('ok')},${text('\\uDC00')}]`.replace('"a"', '"b"'));
    expect(fieldsOf(low.body)).toEqual([[1, ['attributes.note']]]);
    const pair = await post(text('\\ud83d\\ude00'));
    expect(pair.status).toBe(202);
    const sent = JSON.parse(pair.sink.sent[0]!.value.toString()) as UsageEvent;
    expect(sent.attributes).toEqual({ note: '😀' });
  });

  it('rejects duplicate keys (no last-one-wins), in JSON, NDJSON and CloudEvents', async () => {
    const dup = JSON.stringify(ev({ id: 'a' })).replace(
      '"quantity":"2"',
      '"quantity":1,"quantity":2',
    );
    const json = await post(`[${JSON.stringify(ev({ id: 'b' }))},${dup}]`);
    expect(json.status).toBe(422);
    expect(json.body.errors).toEqual([
      {
        index: 1,
        reasons: [
          { field: 'quantity', message: expect.stringContaining('duplicate key') as unknown },
        ],
      },
    ]);
    expect(json.sink.sent).toEqual([]);
    const nd = await post(`${dup}\n`, 'application/x-ndjson');
    expect(fieldsOf(nd.body)).toEqual([[0, ['quantity']]]);
    const ce = await post(
      `{"specversion":"1.0","type":"io.meterstream.usage","id":"i","source":"s","source":"t","data":${dup}}`,
      'application/cloudevents+json',
    );
    expect(ce.status).toBe(422);
    expect(fieldsOf(ce.body)).toEqual([[0, ['source', 'data.quantity']]]);
  });
});

describe('request timeout', () => {
  it('answers 408 and closes the connection of a client that trickles its body', async () => {
    const s = await setup({ requestTimeoutMs: 300 });
    await s.app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { port } = s.app.server.address() as AddressInfo;
      const socket = connect(port, '127.0.0.1');
      let received = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (received += d));
      const closed = new Promise<number>((resolve) =>
        socket.on('close', () => resolve(Date.now())),
      );
      await new Promise<void>((resolve) => socket.on('connect', resolve));
      const started = Date.now();
      socket.write(
        'POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
          `Authorization: Bearer ${s.all.secret}\r\nContent-Length: 1000\r\n\r\n[`,
      );
      // One byte every 100 ms: never idle long, never done.
      const drip = setInterval(() => socket.writable && socket.write(' '), 100);
      const at = await closed;
      clearInterval(drip);
      // Never before the timeout (how long after it depends on the machine, so is not asserted).
      expect(at - started).toBeGreaterThanOrEqual(250);
      expect(received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      expect(JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4))).toEqual({
        error: {
          code: 'REQUEST_TIMEOUT',
          message: 'request not received within 300 ms; connection closed',
        },
      });
      expect(s.sink.sent).toEqual([]);
      // The server is fine and counted it.
      const metrics = await s.app.inject('/metrics');
      expect(metrics.body).toContain('meterstream_ingest_requests_total{status="408"} 1');
      const ok = await s.inject(ev());
      expect(ok.statusCode).toBe(202);
    } finally {
      await s.app.close();
    }
  });

  it('defaults to 10 s, configurable with MS_INGEST_REQUEST_TIMEOUT_MS', () => {
    expect(ingestEnvSchema.parse({}).MS_INGEST_REQUEST_TIMEOUT_MS).toBe(DEFAULT_REQUEST_TIMEOUT_MS);
    expect(DEFAULT_REQUEST_TIMEOUT_MS).toBe(10_000);
    expect(
      ingestEnvSchema.parse({ MS_INGEST_REQUEST_TIMEOUT_MS: '2500' }).MS_INGEST_REQUEST_TIMEOUT_MS,
    ).toBe(2_500);
    expect(ingestEnvSchema.safeParse({ MS_INGEST_REQUEST_TIMEOUT_MS: '0' }).success).toBe(false);
  });
});
