import { Lifecycle, createLogger } from '@meterstream/observability';
import { loadSubmitterEnv } from './env.js';
import { startSubmitter } from './submitter.js';

const config = loadSubmitterEnv();
const logger = createLogger('submitter', { level: config.MS_LOG_LEVEL });
const lifecycle = new Lifecycle(logger);
lifecycle.handleSignals();
try {
  const running = await startSubmitter(config, { logger });
  lifecycle.onClose('submitter', () => running.close());
  lifecycle.running();
} catch (err) {
  logger.fatal({ err }, 'submitter failed to start');
  process.exit(1);
}
