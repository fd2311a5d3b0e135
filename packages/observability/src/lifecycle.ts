import type { Logger } from 'pino';

/** States of a process's lifecycle. */
export type LifecycleState = 'starting' | 'running' | 'draining' | 'closed';

/** The legal transitions; anything else is a bug and throws. */
export const LIFECYCLE_TRANSITIONS: Readonly<Record<LifecycleState, readonly LifecycleState[]>> = {
  starting: ['running', 'draining'],
  running: ['draining'],
  draining: ['closed'],
  closed: [],
};

type Closer = { name: string; close: () => Promise<void> | void };

/**
 * Graceful shutdown as an explicit state machine: SIGTERM/SIGINT move a running process to
 * `draining`, closers run in reverse registration order (last started, first stopped), then
 * `closed`. `shutdown()` is idempotent: a second signal or call waits for the first.
 */
export class Lifecycle {
  private current: LifecycleState = 'starting';
  private readonly closers: Closer[] = [];
  private shuttingDown: Promise<void> | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly timeoutMs = 30_000,
  ) {}

  get state(): LifecycleState {
    return this.current;
  }

  private to(next: LifecycleState): void {
    if (!LIFECYCLE_TRANSITIONS[this.current].includes(next)) {
      throw new Error(`illegal lifecycle transition ${this.current} -> ${next}`);
    }
    this.current = next;
  }

  /** Registers something to close on shutdown (closed in reverse order). */
  onClose(name: string, close: () => Promise<void> | void): void {
    this.closers.push({ name, close });
  }

  running(): void {
    this.to('running');
  }

  /** Installs SIGTERM and SIGINT handlers that shut down and exit. */
  handleSignals(exit: (code: number) => void = (code) => process.exit(code)): void {
    const onSignal = (signal: NodeJS.Signals): void => {
      this.logger.info({ signal }, 'shutting down');
      void this.shutdown().then(
        () => exit(0),
        () => exit(1),
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }

  /** Closes everything registered; safe to call more than once. */
  shutdown(): Promise<void> {
    this.shuttingDown ??= this.run();
    return this.shuttingDown;
  }

  private async run(): Promise<void> {
    this.to('draining');
    const timer = setTimeout(() => {
      this.logger.error({ timeoutMs: this.timeoutMs }, 'shutdown timed out');
    }, this.timeoutMs);
    timer.unref();
    let failed = false;
    for (const closer of [...this.closers].reverse()) {
      try {
        await closer.close();
        this.logger.debug({ closer: closer.name }, 'closed');
      } catch (err) {
        failed = true;
        this.logger.error({ err, closer: closer.name }, 'close failed');
      }
    }
    clearTimeout(timer);
    this.to('closed');
    if (failed) throw new Error('one or more closers failed');
  }
}
