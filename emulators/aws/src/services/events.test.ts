import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Subscription } from '../state.js';
import { EVENT_SOURCE, EventSender, lifecycleEvents, type MarketplaceEvent } from './events.js';
import { agreementIdOf } from './licenses.js';

const LIC = 'arn:aws:license-manager::123456789012:license:l-1';
const sub: Subscription = {
  productCode: 'prod-a',
  customerAwsAccountId: '123456789012',
  licenseArn: LIC,
  acceptedAt: '2026-11-26T10:00:00.000Z',
};
const c = { seed: 1, sellerAccountId: '111122223333', now: Date.parse('2026-11-26T10:20:00Z') };
const types = (events: MarketplaceEvent[]): string[] => events.map((e) => e['detail-type']);

describe('lifecycleEvents', () => {
  it('names the seller guide’s detail types, Proposer and Manufacturer variants of agreement events', () => {
    expect(types(lifecycleEvents('created', sub, c))).toEqual([
      'Purchase Agreement Created - Proposer',
      'Purchase Agreement Created - Manufacturer',
      'License Updated - Manufacturer',
    ]);
    expect(types(lifecycleEvents('amended', sub, c))).toEqual([
      'Purchase Agreement Amended - Proposer',
      'Purchase Agreement Amended - Manufacturer',
      'License Updated - Manufacturer',
    ]);
    expect(types(lifecycleEvents('ended', sub, c))).toEqual([
      'Purchase Agreement Ended - Proposer',
      'Purchase Agreement Ended - Manufacturer',
    ]);
    expect(types(lifecycleEvents('deprovisioned', sub, c))).toEqual([
      'License Deprovisioned - Manufacturer',
    ]);
    // No license: agreement events only; no buyer account (legacy identifier): none.
    expect(types(lifecycleEvents('created', { ...sub, licenseArn: undefined }, c))).toHaveLength(2);
    expect(lifecycleEvents('created', { productCode: 'p', customerIdentifier: 'x' }, c)).toEqual(
      [],
    );
  });

  it('builds the EventBridge envelope and detail of the seller guide’s examples', () => {
    const [created, , license] = lifecycleEvents('created', sub, c);
    const agreementId = agreementIdOf(1, sub);
    expect(created).toMatchObject({
      version: '0',
      source: EVENT_SOURCE,
      account: '111122223333',
      time: '2026-11-26T10:20:00Z',
      region: 'us-east-1',
      resources: [`arn:aws:aws-marketplace::aws:agreement:${agreementId}`],
      detail: {
        catalog: 'AWSMarketplace',
        agreement: {
          id: agreementId,
          intent: 'NEW',
          status: 'ACTIVE',
          acceptanceTime: '2026-11-26T10:00:00Z',
        },
        acceptor: { accountId: '123456789012' },
        proposer: { accountId: '111122223333' },
      },
    });
    expect(license?.detail).toMatchObject({
      agreement: { id: agreementId },
      product: { code: 'prod-a' },
      license: { arn: LIC },
      acceptor: { accountId: '123456789012' },
    });
    expect(created?.id).not.toBe(license?.id);
  });
});

describe('EventSender', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((done) => server?.close(done) ?? done(undefined));
    server = undefined;
  });
  /** A target answering the given statuses in turn (then 200), recording what it received. */
  const target = async (statuses: number[]) => {
    const got: { headers: Record<string, unknown>; body: MarketplaceEvent }[] = [];
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (d: Buffer) => (text += d.toString()));
      req.on('end', () => {
        got.push({ headers: req.headers, body: JSON.parse(text) as MarketplaceEvent });
        res.statusCode = statuses.shift() ?? 200;
        res.end();
      });
    });
    await new Promise<void>((done) => server?.listen(0, '127.0.0.1', done));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
    return { url, got };
  };
  const fast = { attempts: 4, baseMs: 1, maxMs: 5 };

  it('posts each event with the shared secret, retrying 5xx and 429, not other 4xx', async () => {
    const t = await target([503, 429, 200, 400]);
    const sender = new EventSender({ url: t.url, headerName: 'x-api-key', secret: 's3cret' }, fast);
    const [a, b] = lifecycleEvents('created', sub, c);
    sender.send([a!, b!]);
    await sender.idle();
    expect(t.got.map((g) => g.body.id)).toEqual([a!.id, a!.id, a!.id, b!.id]);
    expect(t.got[0]?.headers['x-api-key']).toBe('s3cret');
    expect(t.got[0]?.headers['content-type']).toBe('application/json');
    expect(
      sender.deliveries().map((d) => [d.detailType, d.status, d.attempts, d.lastStatusCode]),
    ).toEqual([
      ['Purchase Agreement Created - Proposer', 'delivered', 3, 200],
      ['Purchase Agreement Created - Manufacturer', 'failed', 1, 400],
    ]);
    await sender.close();
  });

  it('gives up after its attempts when the target is down, and sends nothing without a target', async () => {
    const sender = new EventSender(
      { url: 'http://127.0.0.1:1/x', headerName: 'h', secret: '' },
      fast,
    );
    sender.send(lifecycleEvents('deprovisioned', sub, c));
    await sender.idle();
    expect(sender.deliveries()[0]).toMatchObject({ status: 'failed', attempts: 4 });
    const none = new EventSender(undefined);
    expect(none.enabled).toBe(false);
    none.send(lifecycleEvents('created', sub, c));
    expect(none.deliveries()).toEqual([]);
    none.setTarget({ url: 'http://127.0.0.1:1/x', headerName: 'h', secret: '' });
    expect(none.enabled).toBe(true);
  });
});
