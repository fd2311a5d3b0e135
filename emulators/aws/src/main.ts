import { Lifecycle, Metrics, createLogger } from '@meterstream/observability';
import { loadEnv } from './env.js';
import { startEmulator } from './server.js';

const env = loadEnv();
const logger = createLogger('aws-emulator', { level: env.MS_LOG_LEVEL });
const lifecycle = new Lifecycle(logger);
lifecycle.handleSignals();

const emulator = await startEmulator({
  port: env.MS_AWS_PORT,
  host: env.MS_AWS_HOST,
  stateFile: env.MS_AWS_STATE_FILE,
  seed: env.MS_AWS_SEED,
  cloudTrailDelayMs: env.MS_AWS_CLOUDTRAIL_DELAY_MS,
  accountId: env.MS_AWS_ACCOUNT_ID,
  logger: logger.child({ module: 'server' }),
  metrics: new Metrics('aws_emulator'),
});
// Closing flushes the state file, so SIGTERM never loses an applied record.
lifecycle.onClose('emulator', () => emulator.close());
lifecycle.running();
