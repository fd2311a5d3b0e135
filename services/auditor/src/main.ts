import { runService } from '@meterstream/observability';
import { loadAuditorEnv } from './env.js';
import { startAuditor } from './start.js';

const env = loadAuditorEnv();
await runService('auditor', { logLevel: env.MS_LOG_LEVEL }, (logger) =>
  startAuditor(env, { logger }),
);
