import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  duplicateWindows,
  makeLoad,
  produce,
  setupCase,
  sleep,
  sortedEntries,
  testEnv,
  waitAllFrozen,
  windowTotals,
  type Case,
} from './testing/harness.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));

let c: Case | undefined;
let child: ChildProcess | undefined;

function start(env: Record<string, string>): ChildProcess {
  const p = spawn(process.execPath, [main], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  p.stderr?.resume();
  return p;
}

function kill9(p: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once('exit', () => resolve());
    p.kill('SIGKILL');
  });
}

beforeAll(() => {
  execFileSync('npx', ['tsc', '-b', 'services/aggregator'], { cwd: root, stdio: 'inherit' });
}, 120_000);

afterEach(async () => {
  if (child) await kill9(child);
  child = undefined;
  await c?.close();
  c = undefined;
});

/** Whether the group has committed less than the topic holds: a kill now interrupts work. */
async function workPending(t: Case): Promise<boolean> {
  const admin = t.kafka.admin();
  await admin.connect();
  try {
    const [high, committed] = await Promise.all([
      admin.topicOffsets(t.topic.topic),
      admin.groupOffsets(t.topic.groupId, t.topic.topic),
    ]);
    const done = new Map(committed.map((c) => [c.partition, BigInt(c.offset)]));
    return high.some((h) => (done.get(h.partition) ?? -1n) < BigInt(h.high));
  } finally {
    await admin.disconnect();
  }
}

async function claims(t: Case): Promise<number> {
  const rows = await t.db.ch
    .query<{ n: string }>(`SELECT count() AS n FROM ${t.db.name}.partition_owners`)
    .catch(() => [{ n: '0' }]);
  return Number(rows[0]?.n ?? 0);
}

describe('aggregator process killed with SIGKILL', () => {
  it('gives the same totals after 20 kill -9 at random points of a 100 000-event load', async () => {
    c = await setupCase('aggkill', 3);
    const load = makeLoad(c, 100_000, 0.05);
    const env = testEnv(c);
    const kills = 20;
    const chunk = Math.ceil(load.messages.length / kills);
    let killedMidWork = 0;
    for (let i = 0; i < kills; i++) {
      // Each life gets a share of the load, and dies at a random moment: before joining the group,
      // while inserting, committing or freezing.
      // Half the lives find their share already waiting; for the other half it arrives while
      // they run, so the kill lands while they fetch, insert and commit it (a quiet machine
      // otherwise finishes a share before the kill and nothing is ever replayed).
      const share = load.messages.slice(i * chunk, (i + 1) * chunk);
      if (i % 2 === 0) await produce(c, share);
      child = start(env);
      // Wait until this life owns a partition (it joined and claimed), then kill it at a random
      // moment of its work: while inserting, committing, freezing or idle-freezing.
      const before = await claims(c);
      const until = Date.now() + 15_000;
      while ((await claims(c)) === before && Date.now() < until) await sleep(100);
      if (i % 2 === 1) {
        await produce(c, share);
        // Aimed, as a watcher would: after a random moment (none in life 1), kill as soon as
        // uncommitted messages are seen, so the kill lands on open work instead of counting on it.
        await sleep(i === 1 ? 0 : randomInt(400));
        const aimUntil = Date.now() + 2_000;
        while (!(await workPending(c)) && Date.now() < aimUntil) await sleep(10);
      } else {
        await sleep(randomInt(1500));
      }
      if (await workPending(c)) killedMidWork++;
      await kill9(child);
    }
    expect(await claims(c)).toBeGreaterThanOrEqual(kills);
    // The kills really interrupted work: uncommitted messages were there when they landed (life 1
    // is killed right after its share arrives, before it could commit it).
    expect(killedMidWork).toBeGreaterThan(0);
    // The last life runs 2 h ahead so the idle fallback also freezes the current hour (lives that
    // idled may have carried usage into it).
    child = start({ ...env, MS_AGGREGATOR_CLOCK_OFFSET_MS: String(2 * 3_600_000) });
    await waitAllFrozen(c.db.ch, c.db.name, load.uniqueEvents, 150_000);
    expect(sortedEntries(await windowTotals(c.db.ch, c.db.name))).toEqual(
      sortedEntries(load.expected),
    );
    expect(await duplicateWindows(c.db.ch, c.db.name)).toBe(0);
    // Every message reached the raw table (some possibly twice: replays of uncommitted inserts).
    const [r] = await c.db.ch.query<{ rows: string; offsets: string }>(
      `SELECT count() AS rows, uniqExact(kafka_partition, kafka_offset) AS offsets FROM ${c.db.name}.usage_events`,
    );
    expect(Number(r?.offsets)).toBe(load.messages.length);
    expect(Number(r?.rows)).toBeGreaterThanOrEqual(Number(r?.offsets));
  }, 400_000);
});
