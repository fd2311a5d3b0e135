import { resolve } from 'node:path';
import { Metrics, createLogger, type Logger, type ServiceHandle } from '@meterstream/observability';
import type { Exchange } from './api.js';
import { systemClock, type Clock } from './clock.js';
import { EmulatorCore } from './core.js';
import { buildServer } from './server.js';
import { EventSender, type EventTarget, type RetryPolicy } from './services/events.js';
import { StateFile, emptyState } from './state.js';

/** The emulator's configuration (see `emulatorConfigFromEnv`). */
export interface EmulatorConfig {
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  /** Where state persists; undefined keeps it in memory only. */
  stateFile?: string | undefined;
  seed?: number;
  cloudTrailDelayMs?: number;
  accountId?: string;
  /**
   * BatchMeterUsage / MeterUsage requests a second per account and region (AWS: 10); beyond it
   * ThrottlingException. 0 (the default) enforces nothing; the per-second counts are kept anyway.
   */
  meteringRps?: number;
  /** Where lifecycle events are posted (an EventBridge API destination); none by default. */
  events?: EventTarget | undefined;
  /** How event deliveries are retried. */
  eventRetry?: RetryPolicy | undefined;
}

/** What {@link startEmulator} can be given instead of its defaults. */
export interface EmulatorDeps {
  /** The emulated clock before the admin offset (default: the machine's). */
  clock?: Clock;
  logger?: Logger;
  metrics?: Metrics;
  /** Called with every AWS API exchange. */
  onExchange?: (exchange: Exchange) => void;
}

/** Configuration and dependencies in one object, as callers written before the split pass them. */
export type EmulatorOptions = EmulatorConfig & EmulatorDeps;

/** A running emulator; `close()` flushes the state file and is idempotent. */
export interface RunningEmulator extends ServiceHandle {
  url: string;
  port: number;
  core: EmulatorCore;
  metrics: Metrics;
  /** Writes pending state now. */
  flush(): Promise<void>;
}

/** Loads the state file (or starts empty) and builds the core that persists into it. */
async function loadCore(
  config: EmulatorConfig,
  clock: Clock,
  logger: Logger,
): Promise<{ core: EmulatorCore; persister: StateFile }> {
  const seed = config.seed ?? 1;
  const events = new EventSender(config.events, config.eventRetry);
  const stateFilePath = config.stateFile ? resolve(config.stateFile) : undefined;
  const loaded = await StateFile.load(stateFilePath);
  // eslint-disable-next-line prefer-const -- assigned after the core, which needs the persister.
  let persister: StateFile;
  const core = new EmulatorCore(
    loaded ?? emptyState(seed),
    clock,
    {
      accountId: config.accountId ?? '111122223333',
      cloudTrailDelayMs: config.cloudTrailDelayMs ?? 2000,
      seed,
      meteringRps: config.meteringRps ?? 0,
    },
    () => persister.changed(),
    { events },
  );
  persister = new StateFile(
    stateFilePath,
    () => core.state,
    25,
    (err) => logger.error({ err }, 'writing the state file failed'),
  );
  if (loaded)
    logger.info({ stateFile: stateFilePath, billing: loaded.billing.length }, 'state loaded');
  return { core, persister };
}

/**
 * Starts the emulator: the AWS JSON 1.1 endpoint on `POST /` and the admin API under `/_admin/`.
 * Dependencies may also come in `config` (older callers pass one object); `deps` wins.
 */
export async function startEmulator(
  config: EmulatorOptions = {},
  deps: EmulatorDeps = {},
): Promise<RunningEmulator> {
  const d = { ...config, ...deps };
  const logger = d.logger ?? createLogger('aws-emulator', { level: 'silent' });
  const metrics = d.metrics ?? new Metrics('aws_emulator', { defaultMetrics: false });
  const { core, persister } = await loadCore(config, d.clock ?? systemClock, logger);
  const app = buildServer({ core, logger, metrics, onExchange: d.onExchange });
  await app.listen({ port: config.port ?? 0, host: config.host ?? '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `http://${config.host && config.host !== '0.0.0.0' ? config.host : '127.0.0.1'}:${port}`;
  logger.info({ url, stateFile: persister.path }, 'aws emulator listening');

  let closing: Promise<void> | undefined;
  return {
    ready: Promise.resolve(),
    url,
    port,
    core,
    metrics,
    flush: () => persister.flush(),
    close: () =>
      (closing ??= (async () => {
        await app.close();
        await core.events.close();
        await persister.flush();
      })()),
  };
}
