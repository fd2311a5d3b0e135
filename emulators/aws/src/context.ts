import type { State } from './state.js';

/** Options fixed for the emulator's lifetime. */
export interface EmulatorSettings {
  /** The seller account recorded in CloudTrail (and metered by MeterUsage by default). */
  accountId: string;
  /** Delay before a CloudTrail event is visible to LookupEvents. */
  cloudTrailDelayMs: number;
  /** Seed of the fault injector and of generated ids. */
  seed: number;
  /** Metering requests a second per account, region and operation (0 or unset: no quota). */
  meteringRps?: number | undefined;
}

/**
 * What the emulated services share (implemented by `EmulatorCore`): the one in-memory state, the
 * emulated clock, id generation and the "state changed" signal that persists it.
 */
export interface EmulatorContext {
  readonly state: State;
  readonly settings: EmulatorSettings;
  /** The emulated "now": the injected clock plus the admin offset. */
  now(): number;
  /** A fresh UUID-shaped id, deterministic in the seed and the state's sequence. */
  nextId(prefix: string): string;
  /** Records that the state changed (including the fault injector's position); it is persisted. */
  touch(): void;
}
