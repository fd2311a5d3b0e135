import { runService } from '@meterstream/observability';
import { loadSubmitterEnv } from './env.js';
import { startSubmitter } from './start.js';

const config = loadSubmitterEnv();
await runService('submitter', { logLevel: config.MS_LOG_LEVEL }, (logger) =>
  startSubmitter(config, { logger }),
);
