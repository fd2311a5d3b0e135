import { describe, expect, it } from 'vitest';
import { nextPath } from './auth.js';

describe('sign-in redirect', () => {
  it('returns to a local path only', () => {
    expect(nextPath('/history?product=demo-analytics&from=2026-11-26')).toBe(
      '/history?product=demo-analytics&from=2026-11-26',
    );
    for (const bad of [undefined, '', '//evil.example/x', 'https://evil.example', '/a b', '/x"y'])
      expect(nextPath(bad), String(bad)).toBe('/listings');
  });
});
