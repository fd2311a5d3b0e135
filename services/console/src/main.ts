import { createLogger, Lifecycle } from '@meterstream/observability';
import { loadConsoleEnv } from './env.js';
import { startConsole } from './server.js';

const env = loadConsoleEnv();
const logger = createLogger('console', { level: env.MS_LOG_LEVEL });
if (env.MS_CONSOLE_DEV)
  logger.warn('development mode: built-in session secret and non-Secure cookies');
const lifecycle = new Lifecycle(logger);
lifecycle.handleSignals();
try {
  const running = await startConsole(env, { logger });
  lifecycle.onClose('console', () => running.close());
  lifecycle.running();
} catch (err) {
  logger.fatal({ err }, 'console failed to start');
  await lifecycle.shutdown().catch(() => undefined);
  process.exit(1);
}
