import { describe, expect, it } from 'vitest';
import type { LedgerRecord } from './ledger.js';
import { emailText, slackPayload, summarize } from './notify.js';

const rec = (over: Partial<LedgerRecord>): LedgerRecord => ({
  productCode: 'p',
  customer: 'c1',
  customerKind: 'identifier',
  dimension: 'd',
  hour: Date.UTC(2026, 10, 26, 3),
  version: 1n,
  state: 'accepted',
  quantity: 5,
  usageMicros: 5_000_000n,
  billableMicros: 5_000_000n,
  carryInMicros: 0n,
  carryOutMicros: 0n,
  meteringRecordId: 'm',
  awsStatus: 'Success',
  reason: '',
  attempts: 1,
  batchId: 'b',
  runId: 'r',
  instanceId: 'i',
  workPartition: 0,
  licenseArn: '',
  pricePerUnit: '1',
  deadline: 0,
  updatedAt: 0,
  usageFromHour: Date.UTC(2026, 10, 26, 3),
  ...over,
});

describe('notices', () => {
  it('totals per state and lists problems with their reasons', () => {
    const [s] = summarize('r1', [
      rec({}),
      rec({ customer: 'c2', state: 'rejected', reason: 'bad dim', quantity: 2 }),
    ]);
    expect(s?.totals).toEqual({
      accepted: { records: 1, quantity: 5 },
      rejected: { records: 1, quantity: 2 },
    });
    const text = emailText(s!);
    expect(text).toContain('rejected: 1 records, 2 units');
    // Problems are listed before accepted records.
    expect(text.indexOf('c2 d qty=2 rejected')).toBeLessThan(text.indexOf('c1 d qty=5 accepted'));
    const slack = slackPayload(s!) as {
      blocks: { type: string; text?: { text: string } }[];
      text: string;
    };
    expect(slack.blocks[0]?.type).toBe('header');
    expect(JSON.stringify(slack.blocks)).toContain('bad dim');
    expect(slack.text).toContain('rejected=1');
  });
});
