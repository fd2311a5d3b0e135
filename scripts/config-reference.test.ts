import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { envShape } from '@meterstream/config';
import { PROCESSES, renderConfigReference } from './config-reference.js';

const file = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));

describe('docs/configuration.md', () => {
  it('documents every key with a description', () => {
    for (const p of PROCESSES) {
      for (const [key, field] of Object.entries(envShape(p.schema))) {
        expect((field as { description?: string }).description, `${p.name} ${key}`).toBeTruthy();
      }
    }
  });

  it('is up to date with the env schemas (npm run docs:config regenerates it)', () => {
    const rendered = renderConfigReference();
    if (process.env.UPDATE_CONFIG_DOCS === '1') writeFileSync(file, rendered);
    expect(readFileSync(file, 'utf8')).toBe(rendered);
  });
});
