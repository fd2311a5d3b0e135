import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

// Tests import workspace packages from source, so `npm test` does not depend on a stale dist/.
// A test reaches another service only through that service's public index (`@meterstream/<svc>`)
// or its test harness (`@meterstream/submitter/testing`), never through a path into its src/.
const packages: Record<string, string> = {
  '@meterstream/errors': './packages/errors/src/index.ts',
  '@meterstream/runtime': './packages/runtime/src/index.ts',
  '@meterstream/contracts': './packages/contracts/src/index.ts',
  '@meterstream/config': './packages/config/src/index.ts',
  '@meterstream/observability': './packages/observability/src/index.ts',
  '@meterstream/clickhouse': './packages/clickhouse/src/index.ts',
  '@meterstream/kafka': './packages/kafka/src/index.ts',
  '@meterstream/plans': './packages/plans/src/index.ts',
  '@meterstream/testing': './packages/testing/src/index.ts',
  '@meterstream/schemas': './schemas/src/index.ts',
  '@meterstream/aws-emulator': './emulators/aws/src/index.ts',
  '@meterstream/ingest': './services/ingest/src/index.ts',
  '@meterstream/aggregator': './services/aggregator/src/index.ts',
  '@meterstream/submitter': './services/submitter/src/index.ts',
  '@meterstream/submitter/testing': './services/submitter/src/testing/harness.ts',
  '@meterstream/auditor': './services/auditor/src/index.ts',
  '@meterstream/console': './services/console/src/index.ts',
};
const alias = Object.entries(packages).map(([name, path]) => ({
  find: new RegExp(`^${name.replace(/\//g, '\\/')}$`),
  replacement: here(path),
}));

const roots = [
  'packages/*/src',
  'schemas/src',
  'emulators/aws/src',
  'services/*/src',
  'scripts',
  'deploy',
];

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: roots.map((r) => `${r}/**/*.test.ts`),
          exclude: ['**/*.int.test.ts', '**/node_modules/**', '**/dist/**'],
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'integration',
          include: roots.map((r) => `${r}/**/*.int.test.ts`),
          exclude: ['**/node_modules/**', '**/dist/**'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Integration tests share one broker and one ClickHouse on a 2-core machine, and some
          // kill processes on purpose: one file at a time keeps them from starving each other.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
