import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Lifecycle, Metrics, createLogger, startOpsServer } from './index.js';

const silent = createLogger('test', { level: 'silent' });

describe('Metrics', () => {
  it('prefixes names and enforces the _total suffix on counters', async () => {
    const m = new Metrics('svc', { defaultMetrics: false });
    m.counter('events_total', 'events').inc(3);
    expect(() => m.counter('events', 'no suffix')).toThrow(/_total/);
    expect(() => m.gauge('x_total', 'bad')).toThrow();
    expect(await m.text()).toContain('svc_events_total 3');
  });
});

describe('createLogger', () => {
  it('redacts secrets', () => {
    const lines: string[] = [];
    const dest = new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) });
    const log = createLogger('t', { destination: dest });
    log.info({ password: 'hunter2', user: { apiKey: 'k' } }, 'hi');
    expect(lines.join('')).not.toContain('hunter2');
    expect(lines.join('')).not.toContain('"k"');
  });
});

describe('Lifecycle', () => {
  it('closes in reverse order once, and rejects illegal transitions', async () => {
    const order: string[] = [];
    const lc = new Lifecycle(silent);
    lc.onClose('a', () => void order.push('a'));
    lc.onClose('b', async () => void order.push('b'));
    lc.running();
    expect(() => lc.running()).toThrow(/illegal/);
    await Promise.all([lc.shutdown(), lc.shutdown()]);
    expect(order).toEqual(['b', 'a']);
    expect(lc.state).toBe('closed');
  });
});

describe('startOpsServer', () => {
  it('serves metrics, health and readiness', async () => {
    const m = new Metrics('ops', { defaultMetrics: false });
    m.counter('x_total', 'x').inc();
    let ready = false;
    const s = await startOpsServer({ port: 0, metrics: m, logger: silent, ready: () => ready });
    const base = `http://127.0.0.1:${s.port}`;
    expect(await (await fetch(`${base}/metrics`)).text()).toContain('ops_x_total 1');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    ready = true;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    await s.close();
    await s.close();
  });

  it("passes other paths to the service's routes, and answers 404 for what they leave", async () => {
    const m = new Metrics('ops', { defaultMetrics: false });
    const s = await startOpsServer({
      port: 0,
      metrics: m,
      logger: silent,
      ready: () => true,
      routes: (req, res, path) => {
        if (path !== '/v1/run' || req.method !== 'POST') return false;
        res.writeHead(202, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
        return true;
      },
    });
    const base = `http://127.0.0.1:${s.port}`;
    const run = await fetch(`${base}/v1/run?x=1`, { method: 'POST' });
    expect(run.status).toBe(202);
    expect(await run.json()).toEqual({ ok: true });
    expect((await fetch(`${base}/v1/run`)).status).toBe(404);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await s.close();
  });
});
