import { describe, expect, it } from 'vitest';
import type { Subscription } from '../state.js';
import {
  activationEnd,
  agreementIdOf,
  checkLicense,
  hourInActivation,
  stillMeterable,
} from './licenses.js';

const H = 3_600_000;
const T = (s: string): number => Date.parse(`2026-11-26T${s}:00Z`);
const iso = (s: string): string => new Date(T(s)).toISOString();
const LIC = 'arn:aws:license-manager::123456789012:license:l-1';
const sub = (over: Partial<Subscription> = {}): Subscription => ({
  productCode: 'p',
  customerAwsAccountId: '123456789012',
  licenseArn: LIC,
  ...over,
});
const rec = { CustomerAWSAccountId: '123456789012', LicenseArn: LIC };

describe('license activation', () => {
  it('ends at the end time or the deprovisioning, whichever is first', () => {
    expect(activationEnd(sub())).toBeUndefined();
    expect(activationEnd(sub({ endTime: iso('12:00') }))).toBe(T('12:00'));
    expect(activationEnd(sub({ endTime: iso('12:00'), deprovisionedAt: iso('10:20') }))).toBe(
      T('10:20'),
    );
  });

  it('takes an hour that overlaps [start, end): 10:00 of a license deprovisioned at 10:20, not 11:00', () => {
    const s = sub({ startTime: iso('08:30'), deprovisionedAt: iso('10:20') });
    expect(hourInActivation(s, T('07:00'))).toBe(false);
    expect(hourInActivation(s, T('08:00'))).toBe(true);
    expect(hourInActivation(s, T('10:00'))).toBe(true);
    expect(hourInActivation(s, T('11:00'))).toBe(false);
    expect(hourInActivation(sub(), 0)).toBe(true);
  });

  it('is metered until one hour after its end', () => {
    const s = sub({ deprovisionedAt: iso('10:20') });
    expect(stillMeterable(s, T('11:19'))).toBe(true);
    expect(stillMeterable(s, T('10:20') + H)).toBe(false);
    expect(stillMeterable(sub(), Number.MAX_SAFE_INTEGER)).toBe(true);
  });
});

describe('checkLicense', () => {
  const fails = (s: Subscription | undefined, r: Record<string, unknown>, hour: number): string => {
    try {
      checkLicense(s, 'p', r, hour);
    } catch (err) {
      return (err as Error).message;
    }
    return 'ok';
  };
  it('rejects an unknown license, another product, another customer and an hour outside', () => {
    const hour = T('10:00');
    expect(fails(sub(), rec, hour)).toBe('ok');
    expect(fails(undefined, rec, hour)).toMatch(/not valid/);
    expect(fails(sub({ productCode: 'q' }), rec, hour)).toMatch(/not valid/);
    expect(fails(sub(), { ...rec, CustomerAWSAccountId: '999999999999' }, hour)).toMatch(
      /does not belong/,
    );
    expect(fails(sub(), { CustomerIdentifier: 'c', LicenseArn: LIC }, hour)).toMatch(
      /does not belong/,
    );
    expect(fails(sub({ customerIdentifier: 'c' }), { CustomerIdentifier: 'c' }, hour)).toBe('ok');
    expect(fails(sub({ endTime: iso('09:00') }), rec, hour)).toMatch(/activation period/);
  });
});

describe('agreementIdOf', () => {
  it('is stable per seed and subscription, and fits the model (ResourceId, AgreementId)', () => {
    const a = agreementIdOf(1, sub());
    expect(a).toBe(agreementIdOf(1, sub({ endTime: iso('12:00') })));
    expect(a).not.toBe(agreementIdOf(2, sub()));
    expect(a).not.toBe(agreementIdOf(1, sub({ licenseArn: `${LIC}2` })));
    expect(a).toMatch(/^agmt-[a-z0-9]{10,59}$/);
  });
});
