import { Metrics, runService } from '@meterstream/observability';
import { emulatorConfigFromEnv, loadEmulatorEnv } from './env.js';
import { startEmulator } from './start.js';

const env = loadEmulatorEnv();
// Closing flushes the state file, so SIGTERM never loses an applied record.
await runService('aws-emulator', { logLevel: env.MS_LOG_LEVEL }, (logger) =>
  startEmulator(emulatorConfigFromEnv(env), {
    logger: logger.child({ module: 'server' }),
    metrics: new Metrics('aws_emulator'),
  }),
);
