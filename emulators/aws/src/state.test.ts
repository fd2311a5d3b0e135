import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StateFile, emptyState } from './state.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'aws-state-'));
  dirs.push(d);
  return d;
};

describe('StateFile', () => {
  it('writes through a temp file and reloads what it wrote', async () => {
    const dir = tmp();
    const path = join(dir, 'nested', 'state.json');
    const state = emptyState(3);
    const file = new StateFile(path, () => state, 10_000);
    expect(await StateFile.load(path)).toBeUndefined();
    state.products.p = { productCode: 'p', dimensions: ['d'], licenseArn: false };
    file.changed();
    file.changed();
    await file.flush();
    expect(readdirSync(join(dir, 'nested'))).toEqual(['state.json']);
    const loaded = await StateFile.load(path);
    expect(loaded?.products.p?.dimensions).toEqual(['d']);
    expect(loaded?.faults.lookupRatePerSecond).toBe(2);
  });

  it('debounces writes and rejects an unknown version', async () => {
    const dir = tmp();
    const path = join(dir, 'state.json');
    let snapshots = 0;
    const file = new StateFile(path, () => (snapshots++, emptyState(1)), 20);
    for (let i = 0; i < 10; i++) file.changed();
    await new Promise((r) => setTimeout(r, 60));
    await file.flush();
    expect(snapshots).toBe(1);
    writeFileSync(path, JSON.stringify({ version: 2 }));
    await expect(StateFile.load(path)).rejects.toThrow(/version/);
  });
});
