// Steps 5 and 6: the usage generator, a SaaS backend sending usage to ingest over HTTP.
//
// Timing, honestly: AWS bills by the hour and Meterstream sends an hour only once it is frozen.
// So that the demo finishes in minutes, every generated event is timestamped in the last complete
// hours (H0-n .. H0-1, H0 = the current hour): the generator's clock is simulated and replays those
// hours in about a minute, oldest first (the aggregator freezes each hour when event time passes
// it, with a 60 s grace), plays the last one as a trickle, and sends late events for hours
// already frozen (they are carried into the next open hour). When the generator stops, the
// aggregator freezes H0-1 by processing time (idle partitions).
import { randomInt } from 'node:crypto';
import { HOUR_MS, MINUTE_MS, hourStart, sleep } from '@meterstream/runtime';
import { PARTITIONS } from './customers.mjs';
import { hhmm, info, step } from './output.mjs';
import { GRACE_MS } from './services.mjs';
import { chRows } from './stores.mjs';

/** A quantity for a dimension of the demo plans, as a decimal string. */
function quantityFor(dim) {
  switch (dim) {
    case 'api_calls':
      return String(randomInt(20, 400));
    case 'storage_gb_hours':
      return `${randomInt(0, 12)}.${String(randomInt(0, 1000)).padStart(3, '0')}`;
    case 'exports':
      return String(randomInt(0, 2));
    case 'seats':
      return String(randomInt(0, 3));
    case 'compute_hours':
      return `${randomInt(0, 4)}.${randomInt(0, 100)}`;
    default:
      return '1';
  }
}

/** `<product>|<customer>|<dimension>` of an event: the key of a row of the demo's table. */
export const keyOfEvent = (e) =>
  `${e.productCode}|${e.customerIdentifier ?? e.customerAwsAccountId}|${e.dimension}`;

/**
 * The hours to play: H0-n .. H0-1 must be complete, and the idle freeze of the last one needs
 * now ≥ H0 + grace, so a run that starts just after the hour waits a little first.
 */
export async function hoursToPlay(o) {
  const minuteMs = Date.now() % HOUR_MS;
  if (minuteMs < GRACE_MS + 30_000) {
    const wait = GRACE_MS + 30_000 - minuteMs;
    step(
      `the hour just began: waiting ${(wait / 1000).toFixed(0)} s so the last played hour can close`,
    );
    await sleep(wait);
  }
  const h0 = hourStart(Date.now());
  return { h0, hours: Array.from({ length: o.hours }, (_, i) => h0 - (o.hours - i) * HOUR_MS) };
}

/** The generator: what it sent (first of each id), and per row events, re-sent ids and late ones. */
export class Traffic {
  constructor(o, procs, { apiKey, customers, dimsAt }) {
    Object.assign(this, { o, procs, apiKey, customers, dimsAt });
    this.url = `http://127.0.0.1:${o.ports.ingest}/v1/events`;
    /** id → first event sent (what counts). */
    this.sent = new Map();
    /** row key → { events, dupes, late }. */
    this.stats = new Map();
    this.seq = 0;
    this.requests = 0;
    this.dupesSent = 0;
    this.lateSent = 0;
  }

  makeEvent(c, dimension, ts) {
    return {
      id: `demo-${this.o.run}-${++this.seq}`,
      productCode: c.plan.productCode,
      ...(c.kind === 'account' ? { customerAwsAccountId: c.id } : { customerIdentifier: c.id }),
      dimension,
      quantity: quantityFor(dimension),
      timestamp: new Date(ts).toISOString(),
      source: 'demo-saas-backend',
      attributes: { region: ['eu-west-1', 'us-east-1'][this.seq % 2] },
    };
  }

  /** An event of a random customer and dimension at `ts`. */
  randomEvent(c, ts) {
    const dims = this.dimsAt(c.plan, ts);
    return this.makeEvent(c, dims[randomInt(0, dims.length)], ts);
  }

  statsOf(k) {
    let s = this.stats.get(k);
    if (!s) this.stats.set(k, (s = { events: 0, dupes: 0, late: 0 }));
    return s;
  }

  /** Posts events to ingest; 503 (Kafka was slow) re-sends the same ids, as a real backend would. */
  async post(events, { late = false } = {}) {
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.apiKey}` },
        body: JSON.stringify(events),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      if (res.status === 202) break;
      if (res.status === 503 && attempt < 10) {
        await sleep(1000);
        continue;
      }
      throw new Error(`ingest answered ${res.status}: ${text.slice(0, 300)}`);
    }
    this.requests++;
    for (const e of events) {
      const s = this.statsOf(keyOfEvent(e));
      s.events++;
      if (this.sent.has(e.id)) s.dupes++;
      else {
        this.sent.set(e.id, e);
        if (late) s.late++;
      }
    }
  }

  /** Re-sends one event (a backend retrying after a lost answer): it counts once. */
  async resend(e) {
    await this.post([e]);
    this.dupesSent++;
  }

  /** Events of every customer and dimension, spread over [from, to). */
  eventsBetween(from, to, perKey) {
    const out = [];
    for (const c of this.customers) {
      for (const d of this.dimsAt(c.plan, from)) {
        for (let i = 0; i < perKey; i++)
          out.push(this.makeEvent(c, d, from + randomInt(0, to - from)));
      }
    }
    return out.sort((a, b) => a.timestamp.localeCompare(b.timestamp));
  }

  /** Replays whole past hours, 12 events per customer and dimension, plus a few re-sent ids. */
  async replay(history) {
    for (const h of history) {
      const evs = this.eventsBetween(h, h + HOUR_MS, 12);
      for (let i = 0; i < evs.length; i += 50) await this.post(evs.slice(i, i + 50));
      const again = [...this.sent.values()].filter(() => Math.random() < 0.04).slice(0, 12);
      for (const e of again) await this.resend(e);
      info(
        `sim ${hhmm(h)}–${hhmm(h + HOUR_MS)}: ${evs.length} events in ${Math.ceil(evs.length / 50)} requests, ${again.length} re-sent ids`,
      );
    }
  }

  /** Whether every partition froze `hour`. */
  async frozenOnAll(hour) {
    const r = await chRows(
      this.o,
      `SELECT uniqExact(kafka_partition) AS n FROM window_freezes WHERE hour = toDateTime(${Math.floor(hour / 1000)})`,
    );
    return Number(r[0]?.n ?? 0) >= PARTITIONS;
  }

  /**
   * The last hour, played as a trickle (a simulated minute every ~0.4 s), with late events for
   * `lateTarget` once the aggregator has frozen it.
   */
  async trickle(lastHour, lateTarget) {
    let lateDone = lateTarget === undefined;
    const trickleMinutes = 60;
    info(
      `sim ${hhmm(lastHour)}–${hhmm(lastHour + HOUR_MS)}: live trickle${lateTarget !== undefined ? `; late events for ${hhmm(lateTarget)} once that hour is frozen` : ''}`,
    );
    let trickled = 0;
    for (let minute = 0; minute < trickleMinutes || !lateDone; minute++) {
      const ts = lastHour + Math.min(minute, 59) * MINUTE_MS + randomInt(0, MINUTE_MS);
      const batch = this.customers.map((c) => this.randomEvent(c, ts));
      await this.post(batch);
      trickled += batch.length;
      if (minute % 7 === 3)
        await this.resend([...this.sent.values()][randomInt(0, this.sent.size)]);
      if (!lateDone && minute % 5 === 0 && (await this.frozenOnAll(lateTarget))) {
        await this.sendLate(lateTarget);
        lateDone = true;
      }
      if (minute > trickleMinutes + 150)
        return this.procs.fail(`hour ${hhmm(lateTarget)} never froze`);
      if (minute % 15 === 14)
        info(`sim ${hhmm(lastHour + minute * MINUTE_MS)}: ${trickled} trickle events so far`);
      await sleep(400);
    }
  }

  async sendLate(hour) {
    const late = this.eventsBetween(hour, hour + HOUR_MS, 1);
    await this.post(late, { late: true });
    this.lateSent += late.length;
    info(
      `hour ${hhmm(hour)} is frozen on every partition: sent ${late.length} late events for it (carried into the next open hour)`,
    );
  }

  /** Step 6: the past hours, the last one as a trickle with late events, then a summary line. */
  async play(h0, hours) {
    step(
      `usage generator: simulated clock replays ${hhmm(hours[0])}–${hhmm(h0)} UTC (the last ${this.o.hours} complete hours) over HTTP to ingest`,
    );
    const history = hours.slice(0, -1);
    await this.replay(history);
    await this.trickle(hours[hours.length - 1], history.length > 0 ? history[0] : undefined);
    info(
      `generator done: ${this.sent.size} unique events, ${this.dupesSent} re-sent ids, ${this.lateSent} late, ${this.requests} requests`,
    );
  }

  /** The interactive demo's real-time trickle in the current hour, until the demo stops. */
  async live() {
    let live = 0;
    for (;;) {
      if (this.procs.stopping) return;
      const c = this.customers[randomInt(0, this.customers.length)];
      try {
        await this.post([this.randomEvent(c, Date.now())]);
        live++;
        if (live % 30 === 0) info(`live: ${live} events sent in the current hour`);
      } catch (e) {
        if (!this.procs.stopping) info(`live trickle: ${e.message}`);
      }
      await sleep(2000);
    }
  }
}
