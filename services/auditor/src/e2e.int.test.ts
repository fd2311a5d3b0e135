import { testLogger } from '@meterstream/testing';
import { afterAll, describe, expect, it } from 'vitest';
// The real submitter writes the ledger here (its own harness: its migrations, the emulator, plans).
import { startSubmitter, type SubmitterHandle } from '@meterstream/submitter';
import {
  M,
  SUB,
  clock,
  freezeHours,
  hoursAgo,
  insertWindows,
  startHarness,
  subscribe,
  type Harness,
} from '@meterstream/submitter/testing';
import { migrateAuditor } from './migrations.js';
import { runAuditOnce } from './auditor.js';
import type { cloudTrailApi } from './cloudtrail.js';
import { sleep } from '@meterstream/runtime';
import { testAuditorConfig, testCloudTrail } from './testing.js';

let h: Harness | undefined;
let sub: SubmitterHandle | undefined;
let api: ReturnType<typeof cloudTrailApi> | undefined;

afterAll(async () => {
  api?.destroy();
  await sub?.close();
  await h?.close();
});

describe('auditor after the real submitter', () => {
  it('finds nothing wrong in what the submitter sent through lost answers and throttling, then flags a tamper', async () => {
    h = await startHarness();
    await migrateAuditor(h.db.ch, h.db.name, { kind: 'single' });
    const hours = [3, 2, 1].map(hoursAgo);
    await freezeHours(h.db.ch, h.db.name, hours);
    for (const c of ['e2e-a', 'e2e-b', 'e2e-c']) await subscribe(h, SUB, c);
    await insertWindows(
      h.db.ch,
      h.db.name,
      hours.flatMap((hour, i) => [
        { productCode: SUB, customer: 'e2e-a', dimension: 'api', hour, micros: BigInt(i + 2) * M },
        { productCode: SUB, customer: 'e2e-b', dimension: 'storage', hour, micros: 7n * M },
      ]),
    );
    // Answers lost after AWS applied the call make the submitter re-send identical records.
    await h.admin('POST', '/_admin/faults', { dropResponseRate: 0.4, throttlingRate: 0.2 });
    sub = await startSubmitter(h.config(), { logger: testLogger('submitter') });
    for (let i = 0; i < 20; i++) {
      const run = await sub.runNow();
      if (run.status === 'done') break;
    }
    await h.admin('POST', '/_admin/faults', {});
    const ledger = await h.store.ledgerAll(hours[0] ?? 0);
    const accepted = ledger.filter((r) => r.state === 'accepted' && r.productCode === SUB);
    // 3 customers x 2 dimensions x 3 hours, zero records included.
    expect(accepted.length).toBe(18);

    api = testCloudTrail(h.emu.url);
    const config = testAuditorConfig(h.db.name, 6);
    // The auditor reads CloudTrail on the same clock as the submitter and the emulator.
    const deps = {
      ch: h.db.ch,
      cloudTrail: api,
      logger: testLogger('auditor'),
      notifiers: [],
      now: clock.now,
    };
    await sleep(2_000 + 2_500 + 500);
    const clean = await runAuditOnce(config, deps);
    expect(clean.reconciliation.findings).toEqual([]);
    expect(clean.reconciliation.outcomes.matched).toBeGreaterThanOrEqual(18);

    // Now CloudTrail misreports a quantity of the next hour's submission.
    const next = hoursAgo(0) - 3_600_000 * 4;
    await freezeHours(h.db.ch, h.db.name, [next]);
    await insertWindows(h.db.ch, h.db.name, [
      { productCode: SUB, customer: 'e2e-c', dimension: 'api', hour: next, micros: 4n * M },
    ]);
    await h.admin('POST', '/_admin/faults', { cloudTrail: { alterQuantityRate: 1 } });
    await sub.runNow();
    await h.admin('POST', '/_admin/faults', {});
    await sleep(2_000 + 2_500 + 500);
    const tampered = await runAuditOnce(config, deps);
    expect(tampered.reconciliation.findings.map((f) => f.kind)).toEqual(['quantity_mismatch']);
  });
});
