import { describe, expect, it } from 'vitest';
import {
  ERROR_CODES,
  MeterstreamError,
  isMeterstreamError,
  isRetriable,
  toMeterstreamError,
} from './index.js';

describe('MeterstreamError', () => {
  it('takes retriability and status from its code', () => {
    const e = new MeterstreamError('KAFKA_UNAVAILABLE', 'broker down');
    expect(e.retriable).toBe(true);
    expect(e.httpStatus).toBe(503);
    expect(isRetriable(e)).toBe(true);
    expect(new MeterstreamError('VALIDATION_FAILED', 'x').retriable).toBe(false);
  });

  it('lets the caller override retriability and keeps the cause', () => {
    const cause = new Error('socket hang up');
    const e = new MeterstreamError('CLICKHOUSE_QUERY_FAILED', 'insert failed', {
      cause,
      retriable: true,
    });
    expect(e.retriable).toBe(true);
    expect(e.cause).toBe(cause);
  });

  it('serializes without cause or stack', () => {
    const e = new MeterstreamError('FORBIDDEN', 'no', {
      details: { product: 'p' },
      cause: new Error('secret'),
    });
    expect(JSON.parse(JSON.stringify(e))).toEqual({
      code: 'FORBIDDEN',
      message: 'no',
      retriable: false,
      details: { product: 'p' },
    });
  });

  it('wraps foreign errors and passes ours through', () => {
    const ours = new MeterstreamError('CONFLICT', 'c');
    expect(toMeterstreamError(ours)).toBe(ours);
    const wrapped = toMeterstreamError(new TypeError('boom'), 'KAFKA_ERROR');
    expect(isMeterstreamError(wrapped, 'KAFKA_ERROR')).toBe(true);
    expect(isRetriable(new Error('plain'))).toBe(false);
  });

  it('has an HTTP status for every code', () => {
    for (const [code, def] of Object.entries(ERROR_CODES)) {
      expect(def.httpStatus, code).toBeGreaterThanOrEqual(400);
    }
  });
});
