import { describe, expect, it } from 'vitest';
import { EXIT, HELP, parseTime, runCli } from './cli.js';
import { auditorEnvSchema } from './env.js';
import { describeFinding } from './notify.js';
import { formatReport, type Report } from './report.js';
import type { AuditStore } from './store.js';

const io = (): {
  out: string[];
  err: string[];
  stdout: (s: string) => void;
  stderr: (s: string) => void;
} => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (s) => void out.push(s), stderr: (s) => void err.push(s) };
};
// Usage errors are answered before any query: a store that throws proves no query ran.
const noStore = new Proxy(
  {},
  { get: () => () => Promise.reject(new Error('no query expected')) },
) as AuditStore;
const env = auditorEnvSchema.parse({});

describe('cli', () => {
  it('prints help with --help and exits 0; without a command exits 1', async () => {
    const o = io();
    expect(await runCli(['--help'], o, { store: noStore, env })).toBe(EXIT.ok);
    expect(o.out.join('')).toBe(HELP);
    expect(HELP).toContain('audit report --from');
    expect(HELP).toContain('trace <usage-event-id>');
    expect(await runCli([], io(), { store: noStore, env })).toBe(EXIT.error);
  });

  it('rejects bad usage with the reason and the help text', async () => {
    for (const argv of [
      ['audit', 'report', '--to', 'now'],
      ['audit', 'report', '--from', 'now', '--to', 'now-2h'],
      ['audit', 'report', '--from', 'yesterday', '--to', 'now'],
      ['audit', 'explain', 'abc'],
      ['audit', 'report', '--from', 'now-1h', '--to', 'now', '--format', 'xml'],
      ['frobnicate'],
      ['audit', 'report', '--bogus'],
    ]) {
      const o = io();
      expect(await runCli(argv, o, { store: noStore, env })).toBe(EXIT.error);
      expect(o.err.join('')).not.toBe('');
    }
  });

  it('parses absolute and relative times', () => {
    const now = Date.UTC(2026, 10, 26, 12);
    expect(parseTime('now', now)).toBe(now);
    expect(parseTime('now-24h', now)).toBe(now - 24 * 3_600_000);
    expect(parseTime('now-90m', now)).toBe(now - 90 * 60_000);
    expect(parseTime('now-7d', now)).toBe(now - 7 * 86_400_000);
    expect(parseTime('2026-11-26T09:00:00Z', now)).toBe(Date.UTC(2026, 10, 26, 9));
    expect(() => parseTime('-24h', now)).toThrow();
    expect(() => parseTime('12', now)).toThrow();
  });

  it('renders a readable report per product and customer', () => {
    const report: Report = {
      from: '2026-11-26T00:00:00.000Z',
      to: '2026-11-26T12:00:00.000Z',
      readUntil: '2026-11-26T12:00:00.000Z',
      summaries: [
        {
          productCode: 'p1',
          customer: 'c1',
          matched: 11,
          pending: 1,
          notBilled: 0,
          findings: { quantity_mismatch: 1 },
          ledgerAcceptedQuantity: 120,
          cloudTrailBilledQuantity: 121,
        },
      ],
      findings: [
        {
          id: 'abcdef0123456789',
          kind: 'quantity_mismatch',
          productCode: 'p1',
          customer: 'c1',
          customerKind: 'identifier',
          dimension: 'gb',
          hourMs: Date.UTC(2026, 10, 26, 9),
          ledgerQuantity: 10,
          ledgerState: 'accepted',
          cloudTrailQuantities: [11],
          cloudTrailStatuses: ['Success'],
          eventIds: ['ev-1'],
          meteringRecordIds: ['mr-1'],
          ledger: null,
          detail: 'ledger quantity 10; CloudTrail billed 11',
          status: 'open',
          note: '',
        },
      ],
      byKind: { quantity_mismatch: 1 },
      unexplained: 1,
    };
    const text = formatReport(report);
    expect(text).toMatch(/p1\s+c1\s+11\s+1\s+120\s+121\s+quantity_mismatch=1/);
    expect(text).toContain(
      'OPEN      abcdef012345 [quantity_mismatch] p1 / c1 / gb / 2026-11-26T09h',
    );
    expect(text).toContain('1 unexplained finding(s).');
    expect(describeFinding(report.findings[0]!)).toContain('(CloudTrail ev-1)');
  });
});
