import { describe, expect, it } from 'vitest';
import { historyFilter, keptQuery } from './history.js';

describe('history query', () => {
  it('reads filters leniently: trimmed text, UTC dates with or without a zone, bad values ignored', () => {
    expect(
      historyFilter(
        {
          product: ' demo-analytics ',
          customer: '   ',
          dimension: 'x'.repeat(300),
          from: '2026-11-26T10:00',
          to: '2026-11-27T00:00+02:00',
        },
        50,
      ),
    ).toEqual({
      productCode: 'demo-analytics',
      customer: undefined,
      dimension: 'x'.repeat(256),
      from: new Date('2026-11-26T10:00:00Z'),
      to: new Date('2026-11-26T22:00:00Z'),
      limit: 50,
    });
    expect(historyFilter({ from: 'yesterday', to: '' }, 1)).toMatchObject({
      from: undefined,
      to: undefined,
    });
  });

  it('keeps only the non-empty parameters for the CSV link', () => {
    expect(
      keptQuery({ product: 'p q', customer: '', to: undefined, from: '2026-11-26T10:00' }),
    ).toBe('product=p+q&from=2026-11-26T10%3A00');
  });
});
