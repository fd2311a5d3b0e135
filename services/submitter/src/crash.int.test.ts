import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv, waitFor } from '@meterstream/testing';
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
/** The submitter process to kill -9 at the next dropped AWS response, if any. */
let armed: ChildProcess | undefined;
let targetedKills = 0;

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
  // The watcher: kill -9 the armed submitter at the instant AWS has applied a call whose answer the
  // submitter will never hear (the emulator drops it), i.e. with its records billed but `sending`.
  h = await startHarness({
    onExchange: (e) => {
      if (armed && e.errorType === 'DroppedResponse') {
        armed.kill('SIGKILL');
        armed = undefined;
        targetedKills++;
      }
    },
  });
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
    env: childEnv(
      h.env({
        MS_SUBMITTER_TICK_MS: '50',
        MS_SUBMITTER_WAVE_SIZE: '60',
        MS_SUBMITTER_CONCURRENCY: '2',
        MS_AWS_TIMEOUT_MS: '1500',
        MS_SMTP_HOST: '',
        MS_SLACK_ENABLED: 'false',
        MS_LOG_LEVEL: 'info',
      }),
    ),
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

const LIVES = 24;
const open = (ledger: { state: string }[]): boolean =>
  ledger.length < expected.size ||
  ledger.some((r) => r.state === 'frozen' || r.state === 'sending');

describe('kill -9 mid-work', () => {
  it('bills every key exactly its frozen quantity, never a DuplicateRecord', async () => {
    let kills = 0;
    let sentNotRecorded = 0;
    let frozenNotSent = 0;
    // Every other life is killed by the watcher between AWS applying a call and the ledger hearing
    // of it (the dangerous window, made to happen rather than hoped for); the others at a random
    // moment after start (freeze, ledger writes, a call in flight, idle).
    for (let life = 0; life < LIVES; life++) {
      const p = await spawnSubmitter();
      if (life % 2 === 0) {
        armed = p;
        // Bounded: a life that never meets a dropped answer is killed like a random one.
        await Promise.race([exited(p), new Promise((r) => setTimeout(r, 30_000))]);
        armed = undefined;
      } else {
        await new Promise((r) => setTimeout(r, random() * 400));
      }
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
      if (!open(ledger)) break;
    }
    // Finish without kills.
    const p = await spawnSubmitter();
    await waitFor(
      'the last submitter to settle every record',
      async () => (open(await h.store.ledgerAll(HOURS[0])) ? undefined : true),
      { timeoutMs: 180_000, intervalMs: 300 },
    );
    p.kill('SIGTERM');
    await exited(p);

    const ledger = await h.store.ledgerAll(HOURS[0]);
    const billed = billedMap(await h.billing());
    const summary = {
      seed,
      kills,
      targetedKills,
      sentNotRecorded,
      frozenNotSent,
      records: expected.size,
    };
    // The watcher's kills landed where they were aimed: each left billed records `sending`.
    expect(targetedKills, JSON.stringify(summary)).toBeGreaterThan(0);
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
    // The kills landed in both windows of danger (by construction, see the watcher).
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
