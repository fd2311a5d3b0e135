import type { z } from 'zod';
import { describeEnv } from '@meterstream/config';
import { aggregatorEnvSchema } from '../services/aggregator/src/env.js';
import { auditorEnvSchema } from '../services/auditor/src/env.js';
import { consoleEnvSchema } from '../services/console/src/env.js';
import { ingestEnvSchema } from '../services/ingest/src/env.js';
import { submitterEnvSchema } from '../services/submitter/src/env.js';
import { envSchema as emulatorEnvSchema } from '../emulators/aws/src/env.js';

/** Every process and its env schema, in the order the reference lists them. */
export const PROCESSES: { name: string; path: string; schema: z.ZodType }[] = [
  { name: 'ingest', path: 'services/ingest/src/env.ts', schema: ingestEnvSchema },
  { name: 'aggregator', path: 'services/aggregator/src/env.ts', schema: aggregatorEnvSchema },
  { name: 'submitter', path: 'services/submitter/src/env.ts', schema: submitterEnvSchema },
  { name: 'auditor', path: 'services/auditor/src/env.ts', schema: auditorEnvSchema },
  { name: 'console', path: 'services/console/src/env.ts', schema: consoleEnvSchema },
  { name: 'AWS emulator', path: 'emulators/aws/src/env.ts', schema: emulatorEnvSchema },
];

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** Renders docs/configuration.md from the zod schemas (the only source of truth for config). */
export function renderConfigReference(): string {
  const out = [
    '# Configuration reference',
    '',
    "Generated from each process's `src/env.ts` (zod schemas parsed at start) by",
    '`npm run docs:config`; a unit test fails when this file is out of date. Every process',
    'refuses to start on bad configuration and names every broken key.',
    '',
  ];
  for (const p of PROCESSES) {
    out.push(
      `## ${p.name}`,
      '',
      `Schema: \`${p.path}\``,
      '',
      '| key | default | description |',
      '| --- | --- | --- |',
    );
    for (const d of describeEnv(p.schema)) {
      const def =
        d.default === undefined
          ? '(required)'
          : d.default === ''
            ? '(empty)'
            : `\`${cell(d.default)}\``;
      out.push(`| \`${d.key}\` | ${def} | ${cell(d.description)} |`);
    }
    out.push('');
  }
  return out.join('\n');
}
