import type { FindingStatus } from '@meterstream/contracts';
import { isMeterstreamError } from '@meterstream/errors';
import { testLogger } from '@meterstream/testing';
import { describe, expect, it } from 'vitest';
import { nextFinding, notifyPending, persistFindings, type StoredFinding } from './findings.js';
import type { Notifier } from './notify.js';
import type { Finding } from './reconcile.js';
import type { AuditStore } from './store.js';

const H = Date.UTC(2026, 10, 15, 8);

const finding = (id: string, over: Partial<Finding> = {}): Finding => ({
  id,
  kind: 'missing_in_cloudtrail',
  productCode: 'p',
  customer: 'c',
  customerKind: 'identifier',
  dimension: 'd',
  hourMs: H,
  ledgerQuantity: 3,
  ledgerState: 'accepted',
  cloudTrailQuantities: [],
  cloudTrailStatuses: [],
  eventIds: [],
  meteringRecordIds: [],
  ledger: null,
  detail: 'x',
  ...over,
});

const stored = (id: string, status: FindingStatus, over: Partial<StoredFinding> = {}) => ({
  ...finding(id),
  status,
  note: '',
  notified: false,
  notifiedChannels: [],
  firstSeenMs: H,
  updatedMs: H,
  ...over,
});

/** A findings table in memory: the latest version of each finding. */
function fakeStore(initial: StoredFinding[]): {
  store: Pick<AuditStore, 'findings' | 'writeFindings'>;
  rows: Map<string, StoredFinding>;
} {
  const rows = new Map(initial.map((f) => [f.id, f]));
  const store: Pick<AuditStore, 'findings' | 'writeFindings'> = {
    findings: (filter = {}) =>
      Promise.resolve(
        [...rows.values()].filter(
          (f) =>
            (filter.ids === undefined || filter.ids.includes(f.id)) &&
            (filter.status === undefined || f.status === filter.status) &&
            (!filter.unnotified || !f.notified),
        ),
      ),
    writeFindings: (fs) => {
      for (const f of fs) rows.set(f.id, f);
      return Promise.resolve();
    },
  };
  return { store, rows };
}

const logger = testLogger('findings');

describe('nextFinding', () => {
  it('checks the status change against the findings contract and keeps the id', () => {
    // The transition table itself is tested with its contract (packages/contracts).
    expect(nextFinding(stored('a', 'open'), stored('a', 'explained')).status).toBe('explained');
    try {
      nextFinding(stored('a', 'explained'), stored('a', 'open'));
      expect.unreachable('explained -> open passed');
    } catch (err) {
      expect(isMeterstreamError(err, 'ILLEGAL_STATE_TRANSITION')).toBe(true);
    }
    expect(() => nextFinding(undefined, stored('a', 'resolved'))).toThrow(/\(new\) -> resolved/);
    expect(() => nextFinding(stored('a', 'open'), stored('b', 'open'))).toThrow(/keep its id/);
  });
});

describe('persistFindings', () => {
  it('stores new findings open, reopens resolved ones, and leaves open and explained ones', async () => {
    const { store, rows } = fakeStore([
      stored('open1', 'open', { note: 'n' }),
      stored('expl', 'explained', { note: 'case 42' }),
      stored('gone', 'resolved', { notified: true, notifiedChannels: ['log'], firstSeenMs: 1 }),
    ]);
    const now = H + 5;
    const fresh = await persistFindings(
      store,
      [finding('new'), finding('open1'), finding('expl'), finding('gone', { detail: 'again' })],
      now,
      { logger },
      [],
    );
    expect(fresh.map((f) => f.id)).toEqual(['new']);
    expect(rows.get('new')).toMatchObject({ status: 'open', firstSeenMs: now, notified: false });
    expect(rows.get('open1')).toMatchObject({ status: 'open', note: 'n', updatedMs: H });
    expect(rows.get('expl')).toMatchObject({ status: 'explained', note: 'case 42' });
    // Reopened with its history: first seen and the channels that took it are kept.
    expect(rows.get('gone')).toMatchObject({
      status: 'open',
      detail: 'again',
      firstSeenMs: 1,
      notifiedChannels: ['log'],
      updatedMs: now,
    });
  });

  it('resolves open findings of the range that are gone, except unchecked kinds', async () => {
    const { store, rows } = fakeStore([
      stored('a', 'open'),
      stored('b', 'open', { kind: 'conservation_unbilled' }),
      stored('c', 'explained'),
    ]);
    await persistFindings(
      store,
      [],
      H + 1,
      { logger },
      [H, H + 1],
      new Set(['conservation_unbilled']),
    );
    expect(rows.get('a')).toMatchObject({ status: 'resolved', updatedMs: H + 1 });
    expect(rows.get('b')?.status).toBe('open');
    expect(rows.get('c')?.status).toBe('explained');
  });
});

describe('notifyPending', () => {
  it('records the channels that took a finding, and notified once all did', async () => {
    const { store, rows } = fakeStore([stored('a', 'open'), stored('b', 'open')]);
    const ok: Notifier = { name: 'log', notify: () => Promise.resolve() };
    const down: Notifier = { name: 'slack', notify: () => Promise.reject(new Error('down')) };
    await notifyPending(store, { logger, notifiers: [ok, down] }, H);
    expect(rows.get('a')).toMatchObject({
      status: 'open',
      notified: false,
      notifiedChannels: ['log'],
    });
    const up: Notifier = { name: 'slack', notify: () => Promise.resolve() };
    await notifyPending(store, { logger, notifiers: [ok, up] }, H);
    expect(rows.get('b')).toMatchObject({ notified: true, notifiedChannels: ['log', 'slack'] });
  });
});
