import { describe, expect, it } from 'vitest';
import { MODELS } from './shapes.js';
import { validateShape, validationMessage, type Shape } from './validator.js';

const shapes = MODELS.meteringmarketplace.shapes;
const rec = {
  Timestamp: 1_795_000_000,
  Dimension: 'd',
  Quantity: 1,
  CustomerAWSAccountId: '123456789012',
};

describe('validateShape', () => {
  it('accepts a valid BatchMeterUsage request', () => {
    expect(
      validateShape(shapes, 'BatchMeterUsageRequest', { ProductCode: 'p', UsageRecords: [rec] }),
    ).toEqual([]);
  });
  it('reports required members, list and integer limits, patterns and types with AWS paths', () => {
    const v = validateShape(shapes, 'BatchMeterUsageRequest', {
      ProductCode: 'bad code!',
      UsageRecords: [
        { ...rec, Dimension: undefined, Quantity: 2_147_483_648, CustomerAWSAccountId: '12ab' },
        ...Array.from({ length: 25 }, () => rec),
      ],
    });
    const paths = v.map((x) => x.path);
    expect(paths).toContain('productCode');
    expect(paths).toContain('usageRecords');
    expect(paths).toContain('usageRecords.1.member.dimension');
    expect(paths).toContain('usageRecords.1.member.quantity');
    expect(paths).toContain('usageRecords.1.member.customerAWSAccountId');
    expect(validationMessage(v)).toMatch(/^5 validation errors detected: /);
  });
  it('checks enums, maps, tag lists and unknown members when strict', () => {
    const ent = MODELS['marketplace-entitlement'].shapes;
    expect(
      validateShape(ent, 'GetEntitlementsRequest', { ProductCode: 'p', Filter: { NOPE: ['x'] } }),
    ).toHaveLength(1);
    expect(
      validateShape(ent, 'GetEntitlementsRequest', { ProductCode: 'p', MaxResults: 26 }),
    ).toHaveLength(1);
    expect(validateShape(shapes, 'UsageAllocation', { Tags: [] })[0]?.message).toMatch(
      /greater than or equal to 1/,
    );
    expect(
      validateShape(
        shapes,
        'MeterUsageResult',
        { MeteringRecordId: 'x', Extra: 1 },
        { strictMembers: true },
      ),
    ).toHaveLength(1);
    expect(
      validateShape(shapes, 'MeterUsageResult', { MeteringRecordId: 'x', Extra: 1 }),
    ).toHaveLength(0);
    expect(validateShape(shapes, 'UsageRecordResult', { Status: 'Maybe' })[0]?.message).toMatch(
      /enum/,
    );
    expect(validateShape(shapes, 'Timestamp', 'yesterday')).toHaveLength(1);
  });
  it('words length, value and type violations as AWS does, in order', () => {
    const custom: Record<string, Shape> = {
      S: { type: 'string', min: 2, max: 3, enum: ['ab'], pattern: '^a' },
      N: { type: 'integer', min: 1, max: 5 },
      L: { type: 'list', member: { shape: 'N' }, min: 2 },
    };
    expect(validateShape(custom, 'S', 'bcde')).toEqual([
      { path: '(root)', message: 'Member must have length less than or equal to 3' },
      { path: '(root)', message: 'Member must satisfy enum value set: [ab]' },
      { path: '(root)', message: 'Member must satisfy regular expression pattern: ^a' },
    ]);
    expect(validateShape(custom, 'N', 0)).toEqual([
      { path: '(root)', message: 'Member must have value greater than or equal to 1' },
    ]);
    expect(validateShape(custom, 'L', [9], {}, 'xs')).toEqual([
      { path: 'xs', message: 'Member must have length greater than or equal to 2' },
      { path: 'xs.1.member', message: 'Member must have value less than or equal to 5' },
    ]);
    expect(validateShape(custom, 'N', 1.5)).toEqual([
      { path: '(root)', message: 'must be an integer' },
    ]);
    expect(validateShape(custom, 'Nope', 1)).toEqual([
      { path: '(root)', message: 'unknown shape Nope' },
    ]);
  });
  it('requires exactly one member of a union (the Agreement API AcceptedTerm)', () => {
    const agr = MODELS['marketplace-agreement'].shapes;
    const term = { byolPricingTerm: { type: 'ByolPricingTerm', id: 't-1' } };
    expect(validateShape(agr, 'AcceptedTerm', term)).toEqual([]);
    expect(validateShape(agr, 'AcceptedTerm', {})).toHaveLength(1);
    expect(
      validateShape(agr, 'AcceptedTerm', { ...term, netPaymentTerm: { type: 'NetPaymentTerm' } }),
    ).toEqual([{ path: '(root)', message: 'Member must have exactly one member set' }]);
  });
});
