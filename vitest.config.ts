import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

// Tests import workspace packages from source, so `npm test` does not depend on a stale dist/.
const alias = {
  '@meterstream/errors': here('./packages/errors/src/index.ts'),
  '@meterstream/runtime': here('./packages/runtime/src/index.ts'),
  '@meterstream/contracts': here('./packages/contracts/src/index.ts'),
  '@meterstream/config': here('./packages/config/src/index.ts'),
  '@meterstream/observability': here('./packages/observability/src/index.ts'),
  '@meterstream/clickhouse': here('./packages/clickhouse/src/index.ts'),
  '@meterstream/kafka': here('./packages/kafka/src/index.ts'),
  '@meterstream/plans': here('./packages/plans/src/index.ts'),
  '@meterstream/testing': here('./packages/testing/src/index.ts'),
  '@meterstream/schemas': here('./schemas/src/index.ts'),
};

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
