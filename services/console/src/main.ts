import { runService } from '@meterstream/observability';
import { loadConsoleEnv } from './env.js';
import { startConsole } from './start.js';

const env = loadConsoleEnv();
await runService('console', { logLevel: env.MS_LOG_LEVEL }, (logger) =>
  startConsole(env, { logger }),
);
