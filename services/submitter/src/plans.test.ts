import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Metrics } from '@meterstream/observability';
import { testLogger } from '@meterstream/testing';
import { submitterMetrics } from './metrics.js';
import { PlanSource, decideReload, plansFingerprint } from './plans.js';

const H = new Date(Date.UTC(2026, 10, 15, 8));

const planYaml = (dims: string[]): string =>
  `productCode: p\nname: P\npricingModel: subscription\nversions:\n  - effectiveFrom: 2025-01-01T00:00:00Z\n    dimensions:\n` +
  dims.map((d) => `      - { name: ${d}, unit: u, pricePerUnit: "1" }\n`).join('');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ms-plans-reload-'));
  await writeFile(join(dir, 'p.yaml'), planYaml(['api']));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const open = async (): Promise<{ source: PlanSource; metrics: Metrics }> => {
  const metrics = new Metrics('meterstream_submitter');
  const source = await PlanSource.open(dir, submitterMetrics(metrics), testLogger('plans-test'));
  return { source, metrics };
};

describe('plan reload decision', () => {
  it('does nothing while the fingerprint is the one last seen, without reading the plans', () => {
    let reads = 0;
    const d = decideReload('a', 'a', () => {
      reads++;
      return { plans: [], issues: [] };
    });
    expect(d).toEqual({ action: 'unchanged' });
    expect(reads).toBe(0);
  });

  it('keeps the old catalog when the new plans have any issue, or define a product twice', () => {
    const issue = { file: 'x.yaml', path: 'versions', message: 'bad' };
    expect(decideReload('a', 'b', () => ({ plans: [], issues: [issue] }))).toEqual({
      action: 'keep_old',
      issues: [issue],
    });
  });

  it('changes the fingerprint with the bytes of a plan file, not with its mtime', async () => {
    const before = await plansFingerprint(dir);
    expect(await plansFingerprint(dir)).toBe(before);
    await writeFile(join(dir, 'p.yaml'), planYaml(['apj'])); // same size, other content
    expect(await plansFingerprint(dir)).not.toBe(before);
    await writeFile(join(dir, 'README.txt'), 'not a plan');
    const withOther = await plansFingerprint(dir);
    await writeFile(join(dir, 'README.txt'), 'still not a plan');
    expect(await plansFingerprint(dir)).toBe(withOther);
  });
});

describe('PlanSource', () => {
  it('reloads a fixed plan, keeps the old one while the directory is invalid, and says so', async () => {
    const { source, metrics } = await open();
    const first = await source.refresh();
    expect(first.hasDimension('p', 'beta', H)).toBe(false);
    // Unchanged: the same catalog object, nothing counted.
    expect(await source.refresh()).toBe(first);
    expect(await metrics.text()).not.toMatch(/plan_reloads_total\{/);

    // The seller breaks the file: the running plans stay, the gauge and the counter say why.
    await writeFile(join(dir, 'p.yaml'), 'productCode: p\nversions: []\n');
    expect(await source.refresh()).toBe(first);
    expect(await source.refresh()).toBe(first);
    let text = await metrics.text();
    expect(text).toMatch(/meterstream_submitter_plans_invalid 1\b/);
    // Once per content, not once per run.
    expect(text).toMatch(/meterstream_submitter_plan_reloads_total\{outcome="invalid"\} 1\b/);

    // ... and fixes it with the dimension added: the next run uses it.
    await writeFile(join(dir, 'p.yaml'), planYaml(['api', 'beta']));
    const fixed = await source.refresh();
    expect(fixed).not.toBe(first);
    expect(fixed.hasDimension('p', 'beta', H)).toBe(true);
    text = await metrics.text();
    expect(text).toMatch(/meterstream_submitter_plans_invalid 0\b/);
    expect(text).toMatch(/meterstream_submitter_plan_reloads_total\{outcome="loaded"\} 1\b/);
  });

  it('loads a plan file added for a product that had none', async () => {
    const { source } = await open();
    expect((await source.refresh()).resolveProduct('q')).toBeUndefined();
    await writeFile(
      join(dir, 'q.yaml'),
      planYaml(['api']).replace('productCode: p', 'productCode: q'),
    );
    expect((await source.refresh()).resolveProduct('q')?.productCode).toBe('q');
  });

  it('refuses to start on invalid plans, as before', async () => {
    await writeFile(join(dir, 'p.yaml'), 'productCode: p\n');
    await expect(open()).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});
