import { describe, expect, it } from 'vitest';
import * as C from './index.js';

// A table's DDL is what its first migration created on every server that ever ran it: it must
// never change. This pins the text of every table and view in both topologies; a change shows up
// here and must be a new migration instead (a later column: renderAddColumn).
describe('contract DDL', () => {
  const tables = Object.entries(C).filter(
    (e): e is [string, C.Table] =>
      typeof e[1] === 'object' && e[1] !== null && 'create' in e[1] && 'in' in e[1],
  );

  it('covers every table', () => {
    expect(tables.map(([name]) => name).sort()).toMatchSnapshot();
  });

  for (const topology of [
    { kind: 'single' as const },
    { kind: 'cluster' as const, cluster: 'c1' },
  ]) {
    it(`is unchanged (${topology.kind})`, () => {
      const ctx = { database: 'db', topology };
      const ddl = Object.fromEntries(tables.map(([name, t]) => [name, t.create(ctx)]));
      expect({
        ...ddl,
        ledgerUsageFromHour: C.LEDGER.addUsageFromHour(ctx),
        analystViews: C.createAnalystViews(ctx),
        copyEntitlementsToTerms: C.copyEntitlementsToTerms('db'),
      }).toMatchSnapshot();
    });
  }
});
