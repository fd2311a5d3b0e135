import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PlanCatalog, loadPlans, validatePlan, validatePlanDir } from './plans.js';

const repoPlans = fileURLToPath(new URL('../../../plans', import.meta.url));

const base = {
  productCode: 'p1',
  name: 'P1',
  pricingModel: 'subscription',
  versions: [
    {
      effectiveFrom: '2026-01-01T00:00:00Z',
      dimensions: [{ name: 'a', unit: 'u', pricePerUnit: '1' }],
    },
    {
      effectiveFrom: '2026-03-01T05:00:00Z',
      dimensions: [
        { name: 'a', unit: 'u', pricePerUnit: '2' },
        { name: 'b', unit: 'u', pricePerUnit: 0.5 },
      ],
    },
  ],
};

describe('plans', () => {
  it('loads the example plans of the repository', async () => {
    const cat = await loadPlans(repoPlans);
    expect(cat.resolveProduct('demo-analytics')?.pricingModel).toBe('subscription');
    expect(cat.resolveProduct('demo-platform')?.customerIdStyle).toBe('customerAwsAccountId');
  });

  it('picks the version in force at an hour; old hours keep the old version', () => {
    const { plan } = validatePlan(base);
    expect(plan).toBeDefined();
    const cat = new PlanCatalog([plan!]);
    expect(cat.versionAt('p1', new Date('2025-12-31T23:00:00Z'))).toBeUndefined();
    expect(cat.dimensionAt('p1', 'a', new Date('2026-03-01T04:00:00Z'))?.pricePerUnit).toBe('1');
    expect(cat.dimensionAt('p1', 'a', new Date('2026-03-01T05:00:00Z'))?.pricePerUnit).toBe('2');
    expect(cat.hasDimension('p1', 'b', new Date('2026-02-01T00:00:00Z'))).toBe(false);
    expect(cat.hasDimension('p1', 'b', new Date('2026-04-01T00:00:00Z'))).toBe(true);
    expect(cat.dimensionAt('p1', 'b', new Date('2026-04-01T00:00:00Z'))?.pricePerUnit).toBe('0.5');
  });

  it('reports every issue with its path', () => {
    const { issues } = validatePlan({
      ...base,
      productCode: 'bad code!',
      pricingModel: 'free',
      versions: [
        {
          effectiveFrom: '2026-01-01T00:30:00Z',
          dimensions: [{ name: 'a b', unit: 'u', pricePerUnit: '-1' }],
        },
        {
          effectiveFrom: '2025-01-01T00:00:00Z',
          dimensions: [
            { name: 'x', unit: 'u', pricePerUnit: '1' },
            { name: 'x', unit: 'u', pricePerUnit: '1' },
          ],
        },
      ],
    });
    const paths = issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'productCode',
        'pricingModel',
        'versions.0.effectiveFrom',
        'versions.0.dimensions.0.name',
        'versions.0.dimensions.0.pricePerUnit',
      ]),
    );
  });

  it('refuses a directory with a broken file, naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plans-'));
    await writeFile(
      join(dir, 'ok.yaml'),
      'productCode: ok\nname: ok\npricingModel: contract\nversions:\n  - effectiveFrom: 2026-01-01T00:00:00Z\n    dimensions: [{name: a, unit: u, pricePerUnit: "1"}]\n',
    );
    await writeFile(join(dir, 'broken.yaml'), 'productCode: [unclosed\n');
    const r = await validatePlanDir(dir);
    expect(r.plans).toHaveLength(1);
    expect(r.issues[0]?.file).toContain('broken.yaml');
    await expect(loadPlans(dir)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(loadPlans(join(dir, 'missing'))).rejects.toThrow(/cannot read/);
  });
});
