import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { CONTRACT, CONTRACT_ARN, SUB, startHarness, type Harness } from './testing/harness.js';

let h: Harness;
const saved = { ...process.env };

beforeAll(async () => {
  h = await startHarness();
  Object.assign(process.env, h.env());
});

afterAll(async () => {
  process.env = saved;
  await h?.close();
});

describe('CLI', () => {
  it('validates and shows plans, adds and removes customers, syncs entitlements page by page', async () => {
    const out: string[] = [];
    const print = (s: string): void => void out.push(s);
    expect(await runCli(['--help'], print)).toBe(0);
    expect(await runCli(['plans', 'validate'], print)).toBe(0);
    expect(out.join('\n')).toContain('3 plan(s) valid');
    expect(await runCli(['plans', 'show', SUB], print)).toBe(0);
    expect(await runCli(['customers', 'add', SUB, 'cli-cust'], print)).toBe(0);
    expect(await runCli(['customers', 'add', CONTRACT, 'not-an-account'], print)).toBe(2);
    expect((await h.store.subscriptions()).find((s) => s.customer === 'cli-cust')?.status).toBe(
      'active',
    );
    expect(await runCli(['customers', 'remove', SUB, 'cli-cust'], print)).toBe(0);
    expect((await h.store.subscriptions()).find((s) => s.customer === 'cli-cust')?.status).toBe(
      'cancelled',
    );

    // 30 contracts: more than one GetEntitlements page (25), with throttling on.
    for (let i = 0; i < 30; i++) {
      const acct = String(100000000000 + i);
      await h.admin('POST', '/_admin/subscriptions', {
        productCode: CONTRACT,
        customerAwsAccountId: acct,
        licenseArn: CONTRACT_ARN,
      });
      await h.admin('POST', '/_admin/entitlements', {
        productCode: CONTRACT,
        dimension: 'seats',
        customerAwsAccountId: acct,
        licenseArn: CONTRACT_ARN,
        value: { integerValue: 1000 + i },
        expirationDate: '2099-01-01T00:00:00Z',
      });
    }
    await h.admin('POST', '/_admin/faults', { throttlingRate: 0.3 });
    expect(await runCli(['entitlements', 'sync'], print)).toBe(0);
    await h.admin('POST', '/_admin/faults', {});
    const ents = await h.store.entitlements();
    expect(ents).toHaveLength(30);
    expect(ents.find((e) => e.customer === '100000000007')?.quantity).toBe(1007n);
    const synced = (await h.store.subscriptions()).filter((s) => s.source === 'entitlements');
    expect(synced).toHaveLength(30);
    // A contract customer new to the registry gets the LicenseArn of its entitlement: without it,
    // every record of a CustomerAWSAccountId product would be refused (InvalidLicenseException).
    expect(synced.every((s) => s.licenseArn === CONTRACT_ARN)).toBe(true);
  });
});
