import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyCarry } from './ledger.js';
import {
  HOUR,
  M,
  SUB,
  billedMap,
  freezeHours,
  hoursAgo,
  insertWindows,
  iso,
  startHarness,
  subscribe,
  type Harness,
} from './testing/harness.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const mainJs = fileURLToPath(new URL('../dist/main.js', import.meta.url));

let h: Harness;
const CUSTOMERS = 80;
const HOURS = Array.from({ length: 20 }, (_, i) => hoursAgo(20 - i)); // oldest first
const expected = new Map<string, number>();

/** A deterministic pseudo-random stream, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const seed = Number(process.env.MS_TEST_SEED ?? Date.now() % 100_000);
const random = rng(seed);

beforeAll(async () => {
  execFileSync('npx', ['tsc', '-b', 'services/submitter'], { cwd: root, stdio: 'inherit' });
  h = await startHarness();
  await freezeHours(h.db.ch, h.db.name, HOURS);
  const windows: Parameters<typeof insertWindows>[2] = [];
  for (let c = 0; c < CUSTOMERS; c++) {
    const customer = `crash-${c}`;
    await subscribe(h, SUB, customer);
    for (const dimension of ['api', 'storage']) {
      let carry = 0n;
      for (const hour of HOURS) {
        // Some hours without usage (zero records), the rest fractional.
        const micros = random() < 0.3 ? 0n : BigInt(Math.floor(random() * 50)) * 100_000n;
        if (micros > 0n) windows.push({ productCode: SUB, customer, dimension, hour, micros });
        const r = applyCarry(carry, micros);
        carry = r.carryOutMicros;
        expected.set(`${SUB}|id:${customer}|${dimension}|${iso(hour)}`, r.quantity);
      }
    }
  }
  await insertWindows(h.db.ch, h.db.name, windows);
  // Responses lost after AWS applied the call, some throttling, and slow calls so kills land mid-flight.
  await h.admin('POST', '/_admin/faults', {
    dropResponseRate: 0.3,
    throttlingRate: 0.1,
    latencyMs: 40,
  });
}, 180_000);

afterAll(async () => {
  await h?.close();
});

/** Spawns `dist/main.js`; resolves once it logged that it started (so a kill lands mid-work). */
async function spawnSubmitter(): Promise<ChildProcess> {
  const p = spawn(process.execPath, [mainJs], {
    cwd: root,
    env: {
      ...h.env({
        MS_SUBMITTER_TICK_MS: '50',
        MS_SUBMITTER_WAVE_SIZE: '60',
        MS_SUBMITTER_CONCURRENCY: '2',
        MS_AWS_TIMEOUT_MS: '1500',
        MS_SMTP_HOST: '',
        MS_SLACK_ENABLED: 'false',
        MS_LOG_LEVEL: 'info',
      }),
      PATH: process.env.PATH ?? '',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) => {
    let buf = '';
    const onData = (c: Buffer): void => {
      buf += c.toString();
      if (buf.includes('submitter started')) {
        p.stdout?.off('data', onData);
        p.stdout?.resume();
        resolve();
      }
    };
    p.stdout?.on('data', onData);
    p.once('exit', () => resolve());
  });
  return p;
}

const exited = (p: ChildProcess): Promise<void> =>
  new Promise((r) =>
    p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r()),
  );

describe('kill -9 at random points', () => {
  it('bills every key exactly its frozen quantity, never a DuplicateRecord', async () => {
    let kills = 0;
    let killsWithWorkOpen = 0;
    let sentNotRecorded = 0;
    let frozenNotSent = 0;
    while (killsWithWorkOpen < 22 && kills < 40) {
      const p = await spawnSubmitter();
      await new Promise((r) => setTimeout(r, random() * 600));
      p.kill('SIGKILL');
      await exited(p);
      kills++;
      // Classify where the kill landed: a record AWS billed that the ledger still has as sending
      // (killed between send and result), or a frozen record AWS has not seen (between freeze and send).
      const billed = billedMap(await h.billing());
      const ledger = await h.store.ledgerAll(HOURS[0]);
      for (const r of ledger) {
        const k = `${r.productCode}|id:${r.customer}|${r.dimension}|${iso(r.hour)}`;
        if (r.state === 'sending' && billed.has(k)) sentNotRecorded++;
        if (r.state === 'frozen' && !billed.has(k)) frozenNotSent++;
      }
      const open =
        ledger.length < expected.size ||
        ledger.some((r) => r.state === 'frozen' || r.state === 'sending');
      if (open) killsWithWorkOpen++;
    }
    // Finish without kills.
    const p = await spawnSubmitter();
    const deadline = Date.now() + 90_000;
    for (;;) {
      const ledger = await h.store.ledgerAll(HOURS[0]);
      if (
        ledger.length >= expected.size &&
        ledger.every((r) => r.state !== 'frozen' && r.state !== 'sending')
      )
        break;
      if (Date.now() > deadline) throw new Error('the submitter did not finish');
      await new Promise((r) => setTimeout(r, 300));
    }
    p.kill('SIGTERM');
    await exited(p);

    const ledger = await h.store.ledgerAll(HOURS[0]);
    const billed = billedMap(await h.billing());
    const summary = {
      seed,
      kills,
      killsWithWorkOpen,
      sentNotRecorded,
      frozenNotSent,
      records: expected.size,
    };
    expect(killsWithWorkOpen, JSON.stringify(summary)).toBeGreaterThanOrEqual(20);
    expect(new Set(ledger.map((r) => r.state))).toEqual(new Set(['accepted']));
    for (const [k, q] of expected) expect(billed.get(k), `${k} ${JSON.stringify(summary)}`).toBe(q);
    expect([...billed.keys()].filter((k) => k.startsWith(`${SUB}|`) && !expected.has(k))).toEqual(
      [],
    );
    // AWS never answered DuplicateRecord: every resend was identical to the first send.
    const dup = h.exchanges.filter((e) =>
      JSON.stringify(e.response ?? '').includes('DuplicateRecord'),
    );
    expect(dup).toEqual([]);
    expect(h.exchanges.filter((e) => e.errorType === 'DroppedResponse').length).toBeGreaterThan(0);
    // The kills landed in both windows of danger at least once.
    expect(sentNotRecorded, JSON.stringify(summary)).toBeGreaterThan(0);
    expect(frozenNotSent, JSON.stringify(summary)).toBeGreaterThan(0);
    console.log(
      'kill -9 summary',
      summary,
      'dropped responses',
      h.exchanges.filter((e) => e.errorType === 'DroppedResponse').length,
    );
  }, 600_000);
});

export { HOUR, M };
