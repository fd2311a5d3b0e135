import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { testLogger } from '@meterstream/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { controlRoutes, type ControlDeps } from './control.js';
import type { LedgerRecord } from './ledger.js';
import { RunQueue, type RunInfo } from './runs.js';

const H = Date.UTC(2026, 10, 15, 8);

describe('RunQueue', () => {
  it('runs one at a time in the order asked, and keeps the last 500 for reports', async () => {
    const order: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const queue = new RunQueue(
      'i',
      () => H,
      async (info) => {
        order.push(`start ${info.trigger}`);
        if (info.trigger === 'tick') await gate;
        order.push(`end ${info.trigger}`);
        info.status = 'done';
        return info;
      },
    );
    const first = queue.schedule('tick');
    const second = queue.schedule('api');
    expect(second.info.status).toBe('queued');
    expect(first.info.id).toMatch(/^i-[0-9a-z]+-1-[0-9a-f]{4}$/);
    release();
    await second.done;
    expect(order).toEqual(['start tick', 'end tick', 'start api', 'end api']);
    expect(queue.get(first.info.id)?.status).toBe('done');
    for (let n = 0; n < 500; n++) queue.schedule('api');
    await queue.idle();
    expect(queue.get(first.info.id)).toBeUndefined();
  });
});

describe('controlRoutes', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  async function serve(deps: ControlDeps): Promise<string> {
    const routes = controlRoutes(deps);
    server = createServer((req, res) => {
      void routes(req, res, (req.url ?? '/').split('?')[0] ?? '/').then((done) => {
        if (!done) res.writeHead(404).end();
      });
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(server?.address() as AddressInfo).port}`;
  }

  const record = { productCode: 'p', customer: 'c', dimension: 'd', hour: H, quantity: 2 };

  it('starts a run (202), reports it with its records once ended, and 404s the unknown', async () => {
    const runs = new Map<string, RunInfo>();
    let closed = false;
    const base = await serve({
      runs: {
        schedule: (trigger) => {
          const info: RunInfo = { id: `r${runs.size + 1}`, trigger, status: 'queued' };
          runs.set(info.id, info);
          return { info, done: Promise.resolve(info) };
        },
        get: (id) => runs.get(id),
      },
      ledgerByRun: (id) =>
        Promise.resolve([{ ...record, state: 'accepted', runId: id } as unknown as LedgerRecord]),
      closed: () => closed,
      logger: testLogger('control'),
    });
    const post = await fetch(`${base}/v1/run`, { method: 'POST' });
    expect(post.status).toBe(202);
    expect(await post.json()).toEqual({ runId: 'r1', status: 'queued', href: '/v1/runs/r1' });
    // Not ended yet: no records read.
    expect(await (await fetch(`${base}/v1/runs/r1`)).json()).toMatchObject({ records: [] });
    (runs.get('r1') as RunInfo).status = 'done';
    const report = (await (await fetch(`${base}/v1/runs/r1`)).json()) as {
      records: Record<string, unknown>[];
    };
    expect(report.records).toEqual([
      { ...record, hour: new Date(H).toISOString(), state: 'accepted' },
    ]);
    expect((await fetch(`${base}/v1/runs/nope`)).status).toBe(404);
    expect((await fetch(`${base}/v1/runs/r1`, { method: 'DELETE' })).status).toBe(404);
    closed = true;
    expect((await fetch(`${base}/v1/run`, { method: 'POST' })).status).toBe(503);
  });

  it('answers 500 in JSON when the ledger cannot be read', async () => {
    const info: RunInfo = { id: 'r1', trigger: 'api', status: 'failed' };
    const base = await serve({
      runs: { schedule: () => ({ info, done: Promise.resolve(info) }), get: () => info },
      ledgerByRun: () => Promise.reject(new Error('clickhouse down')),
      closed: () => false,
      logger: testLogger('control'),
    });
    const res = await fetch(`${base}/v1/runs/r1`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: 'internal error' });
  });
});
