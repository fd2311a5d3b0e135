import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMeterstreamError } from '@meterstream/errors';
import { MICROS } from '@meterstream/runtime';
import {
  LEDGER_TRANSITIONS,
  VersionClock,
  applyCarry,
  assertTransition,
  deadlineOf,
  heldReason,
  heldReasonOf,
  isTerminal,
  OPEN_STATES,
  overageMicros,
  workPartitionOf,
  type LedgerState,
} from './ledger.js';

const STATES = Object.keys(LEDGER_TRANSITIONS) as LedgerState[];

describe('ledger state machine', () => {
  it('allows exactly the table and nothing out of a terminal state', () => {
    expect(() => assertTransition('frozen', 'sending')).not.toThrow();
    expect(() => assertTransition('sending', 'sending')).not.toThrow();
    expect(() => assertTransition('sending', 'accepted')).not.toThrow();
    for (const t of STATES.filter(isTerminal)) {
      for (const to of STATES) {
        try {
          assertTransition(t, to);
          expect.unreachable(`${t} -> ${to} must be illegal`);
        } catch (err) {
          expect(isMeterstreamError(err, 'ILLEGAL_STATE_TRANSITION')).toBe(true);
        }
      }
    }
    expect(() => assertTransition('frozen', 'accepted')).toThrow(/not allowed/);
    expect(STATES.filter(isTerminal).sort()).toEqual([
      'accepted',
      'duplicate',
      'expired',
      'not_subscribed',
      'rejected',
    ]);
  });

  it('holds what cannot be sent now, re-evaluates it, and ends it only by sending or the deadline', () => {
    expect(() => assertTransition('frozen', 'held')).not.toThrow();
    expect(() => assertTransition('sending', 'held')).not.toThrow();
    // held → frozen: a record held for a missing entitlement is planned once its term is known.
    expect(LEDGER_TRANSITIONS.held.slice().sort()).toEqual([
      'expired',
      'frozen',
      'held',
      'sending',
    ]);
    expect(isTerminal('held')).toBe(false);
    expect(OPEN_STATES).toContain('held');
    expect(() => assertTransition('held', 'rejected')).toThrow(/not allowed/);
    expect(() => assertTransition('held', 'accepted')).toThrow(/not allowed/);
  });

  it('keeps a held reason as a closed code plus a message', () => {
    const r = heldReason('unknown_subscription', 'account 1234: not registered');
    expect(r).toBe('unknown_subscription: account 1234: not registered');
    expect(heldReasonOf(r)).toBe('unknown_subscription');
    expect(heldReasonOf('AWS InvalidUsageDimensionException: x')).toBeUndefined();
    expect(heldReasonOf('')).toBeUndefined();
  });

  it('versions grow strictly, even when the clock steps back', () => {
    let t = 1_000;
    const c = new VersionClock(() => t);
    const a = c.next();
    t = 500;
    const b = c.next();
    expect(b > a).toBe(true);
    expect(c.next(b + 10n) > b + 10n).toBe(true);
  });
});

describe('rounding with carry', () => {
  it('0.4 per hour for 5 hours bills 2 units and carries 0', () => {
    let carry = 0n;
    const billed: number[] = [];
    for (let h = 0; h < 5; h++) {
      const r = applyCarry(carry, 400_000n);
      billed.push(r.quantity);
      carry = r.carryOutMicros;
    }
    expect(billed).toEqual([0, 0, 1, 0, 1]);
    expect(billed.reduce((a, b) => a + b, 0)).toBe(2);
    expect(carry).toBe(0n);
  });

  it('the billed total is the true total rounded down once (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: 0n, max: 5_000_000_000n }), { maxLength: 50 }),
        (usages) => {
          let carry = 0n;
          let billed = 0n;
          for (const u of usages) {
            const r = applyCarry(carry, u);
            billed += BigInt(r.quantity);
            carry = r.carryOutMicros;
            expect(carry >= 0n && carry < MICROS).toBe(true);
          }
          const total = usages.reduce((a, b) => a + b, 0n);
          expect(billed).toBe(total / MICROS);
          expect(billed * MICROS + carry).toBe(total);
        },
      ),
    );
  });
});

describe('contract overage', () => {
  it('entitlement 1000, usage 400+400+400+300 bills 0, 0, 200, 300', () => {
    const E = 1000n * MICROS;
    const hours = [400n, 400n, 400n, 300n].map((u) => u * MICROS);
    let before = 0n;
    const billed = hours.map((u) => {
      const b = overageMicros(E, before, u);
      before += u;
      return b / MICROS;
    });
    expect(billed).toEqual([0n, 0n, 200n, 300n]);
  });

  it('sums to max(0, total - entitlement) in any split (property)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        fc.array(fc.bigInt({ min: 0n, max: 10n ** 10n })),
        (e, us) => {
          let before = 0n;
          let sum = 0n;
          for (const u of us) {
            sum += overageMicros(e, before, u);
            before += u;
          }
          expect(sum).toBe(before > e ? before - e : 0n);
        },
      ),
    );
  });
});

describe('deadlines and buckets', () => {
  it('is 24 h after the hour, or 06:00 UTC on the 1st when earlier', () => {
    const h = Date.UTC(2026, 10, 10, 5);
    expect(deadlineOf(h)).toBe(h + 24 * 3_600_000);
    const last = Date.UTC(2026, 10, 30, 20);
    expect(deadlineOf(last)).toBe(Date.UTC(2026, 11, 1, 6));
  });

  it('buckets are stable and in range', () => {
    expect(workPartitionOf('p', 'c', 12)).toBe(workPartitionOf('p', 'c', 12));
    fc.assert(
      fc.property(fc.string(), fc.string(), (p, c) => {
        const b = workPartitionOf(p, c, 7);
        expect(b >= 0 && b < 7).toBe(true);
      }),
    );
  });
});
