import { describe, expect, it } from 'vitest';
import { Metrics } from '@meterstream/observability';
import { loadPlans } from '@meterstream/plans';
import { testLogger } from '@meterstream/testing';
import { FakeGateway, MemoryData } from './memory.js';
import { consoleMetrics } from './metrics.js';
import type { Submission, Subscription } from './model.js';
import { previewJson, statusJson, SubmissionService } from './submissions.js';

const NOW = new Date('2026-11-26T10:20:00Z');
const HOUR = new Date('2026-11-26T10:00:00Z');
const ID = '11111111-2222-4333-8444-555555555555';
const sub: Subscription = {
  productCode: 'demo-analytics',
  customer: 'cust-a',
  customerKind: 'identifier',
  licenseArn: '',
  buyerName: 'Acme',
  agreementId: 'agmt-1',
  status: 'active',
  periodStart: Date.parse('2026-01-01T00:00:00Z'),
  periodEnd: Date.parse('2099-01-01T00:00:00Z'),
  source: 'entitlements',
};
const lines = [
  { customer: 'cust-a', dimension: 'api_calls', quantity: '120' },
  { customer: 'cust-a', dimension: 'exports', quantity: '2.5' },
];

async function setup(settle?: (s: Submission, data: MemoryData) => void) {
  const catalog = await loadPlans(new URL('../../../plans', import.meta.url).pathname);
  const data = new MemoryData();
  data.subs = [sub];
  const gateway = new FakeGateway((s) => settle?.(s, data));
  const metrics = consoleMetrics(new Metrics('meterstream_console', { defaultMetrics: false }));
  const service = new SubmissionService({
    catalog,
    data,
    gateway,
    metrics,
    log: testLogger(),
    now: () => NOW,
  });
  const outcomes = async () =>
    Object.fromEntries(
      (await metrics.submissions.get()).values.map((v) => [String(v.labels.outcome), v.value]),
    );
  return { data, gateway, service, outcomes };
}

const accept = (s: Submission, data: MemoryData): void => {
  for (const l of s.lines)
    data.setLedger({
      productCode: s.productCode,
      customer: l.customer,
      dimension: l.dimension,
      hour: s.hour,
      state: 'accepted',
      quantity: Number(l.quantity),
    });
};

describe('SubmissionService', () => {
  it('previews the overage of each line without sending, with exact decimals', async () => {
    const { service, gateway } = await setup();
    const r = await service.prepare('demo-analytics', lines, ID, NOW);
    expect(r.errors).toEqual([]);
    expect(r.lines.map(previewJson)).toEqual([
      expect.objectContaining({ dimension: 'api_calls', entitlement: null, overage: '120' }),
      expect.objectContaining({ dimension: 'exports', used: '0', overage: '2.5' }),
    ]);
    expect(r.lines.map((l) => l.eventId)).toEqual([`console:${ID}:0`, `console:${ID}:1`]);
    expect(gateway.sent).toHaveLength(0);
  });

  it('refuses an unknown product and a key already metered this hour', async () => {
    const { service, data } = await setup();
    expect((await service.prepare('nope', lines, ID, NOW)).errors).toEqual([
      { index: -1, message: 'no such product listing' },
    ]);
    data.setLedger({ ...sub, dimension: 'exports', hour: HOUR, state: 'frozen', quantity: 1 });
    const r = await service.prepare('demo-analytics', lines, ID, NOW);
    expect(r.lines).toEqual([]);
    expect(r.errors).toEqual([
      {
        index: 1,
        customer: 'cust-a',
        dimension: 'exports',
        message: 'already metered for the hour starting 10:00 UTC; send again after the hour',
      },
    ]);
  });

  it('records before sending, sends once for concurrent and repeated confirms', async () => {
    const { service, data, gateway, outcomes } = await setup(accept);
    const [a, b] = await Promise.all([
      service.confirmOnce(ID, 'demo-analytics', 'olga', lines),
      service.confirmOnce(ID, 'demo-analytics', 'olga', lines),
    ]);
    const again = await service.confirmOnce(ID, 'demo-analytics', 'olga', lines);
    expect(gateway.sent).toHaveLength(1);
    expect(data.submissions.get(ID)?.actor).toBe('olga');
    const created = [a, b, again].map((r) => ('errors' in r ? 'invalid' : r.created));
    expect(created).toEqual([true, false, false]);
    if ('errors' in a) throw new Error('unexpected errors');
    expect(a.status.hour).toEqual(HOUR);
    expect(a.status.done).toBe(true);
    expect(a.status.records.map((r) => [r.status, r.billedQuantity])).toEqual([
      ['accepted', 120],
      ['accepted', 2.5],
    ]);
    expect(statusJson(a.status).hour).toBe(HOUR.toISOString());
    expect(await outcomes()).toEqual({ sent: 1, duplicate: 2 });
  });

  it('re-sends a recorded submission whose earlier send did not complete, and only then', async () => {
    const { service, data, gateway } = await setup();
    const recorded: Submission = {
      id: ID,
      actor: 'olga',
      productCode: 'demo-analytics',
      hour: HOUR,
      at: NOW,
      lines: [],
    };
    await data.recordSubmission(recorded);
    const first = await service.confirmOnce(ID, 'demo-analytics', 'olga', lines);
    await service.confirmOnce(ID, 'demo-analytics', 'olga', lines);
    expect(gateway.sent).toEqual([recorded]);
    expect('errors' in first ? first : first.status.records).toEqual([]);
  });

  it('refuses a submission id of another actor or product, and invalid lines, sending nothing', async () => {
    const { service, gateway, outcomes } = await setup(accept);
    await service.confirmOnce(ID, 'demo-analytics', 'olga', lines);
    const foreign = await service.confirmOnce(ID, 'demo-analytics', 'mallory', lines);
    expect(foreign).toEqual({
      errors: [{ index: -1, message: 'this submission id belongs to another submission' }],
    });
    const other = '11111111-2222-4333-8444-666666666666';
    const bad = await service.confirmOnce(other, 'demo-analytics', 'olga', [
      { customer: 'cust-a', dimension: 'api_calls', quantity: '-1' },
    ]);
    expect(bad).toEqual({ errors: [expect.objectContaining({ message: 'must not be negative' })] });
    expect(gateway.sent).toHaveLength(1);
    expect(await outcomes()).toEqual({ sent: 1, invalid: 1 });
  });

  it('reports records the ledger does not have yet as pending, not done', async () => {
    const { service } = await setup();
    const s: Submission = {
      id: ID,
      actor: 'olga',
      productCode: 'demo-analytics',
      hour: HOUR,
      at: NOW,
      lines: [
        {
          customer: 'cust-a',
          customerKind: 'identifier',
          licenseArn: '',
          dimension: 'api_calls',
          quantity: '1',
          quantityMicros: 1_000_000n,
          eventId: 'e',
        },
      ],
    };
    const status = await service.statusOf(s);
    expect(status.done).toBe(false);
    expect(status.records).toEqual([
      {
        customer: 'cust-a',
        dimension: 'api_calls',
        quantity: '1',
        status: 'pending',
        billedQuantity: undefined,
        reason: '',
      },
    ]);
  });
});
