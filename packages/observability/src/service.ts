import type { LevelWithSilent, Logger } from 'pino';
import { Lifecycle } from './lifecycle.js';
import { createLogger } from './logger.js';

/**
 * What every `start<Service>(config, deps)` returns (docs/architecture.md): `ready` resolves once
 * the service does its work (listening, joined its group, first run done) and rejects if it never
 * will; `close()` stops it gracefully and is safe to call more than once.
 */
export interface ServiceHandle {
  ready: Promise<void>;
  close(): Promise<void>;
}

/** Options for {@link runService}. */
export interface RunServiceOptions {
  /** pino level from the service's environment (MS_LOG_LEVEL). */
  logLevel: LevelWithSilent;
  /** How long shutdown may take before it is logged as timed out. */
  shutdownTimeoutMs?: number;
  /** For tests: what to do instead of process.exit. */
  exit?: (code: number) => void;
}

/**
 * The whole of a service's `main.ts`: a logger named after the service, graceful shutdown on
 * SIGTERM/SIGINT, `start` called with that logger, and exit 1 with a fatal log line when it fails
 * to start or never becomes ready.
 */
export async function runService(
  name: string,
  options: RunServiceOptions,
  start: (logger: Logger) => Promise<ServiceHandle>,
): Promise<void> {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const logger = createLogger(name, { level: options.logLevel });
  const lifecycle = new Lifecycle(logger, options.shutdownTimeoutMs);
  lifecycle.handleSignals(exit);
  try {
    const handle = await start(logger);
    lifecycle.onClose(name, () => handle.close());
    await handle.ready;
    lifecycle.running();
    logger.info(`${name} running`);
  } catch (err) {
    logger.fatal({ err }, `${name} failed to start`);
    await lifecycle.shutdown().catch(() => undefined);
    exit(1);
  }
}
