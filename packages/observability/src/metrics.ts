import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The one metrics registry of a process plus a service prefix, so every metric is named
 * `<prefix>_<name>` and counters end in `_total` (checked here, not by review).
 */
export class Metrics {
  readonly registry: Registry;

  constructor(
    readonly prefix: string,
    options: { defaultMetrics?: boolean; registry?: Registry } = {},
  ) {
    if (!/^[a-z][a-z0-9_]*$/.test(prefix)) throw new Error(`bad metric prefix: ${prefix}`);
    this.registry = options.registry ?? new Registry();
    if (options.defaultMetrics ?? true)
      collectDefaultMetrics({ register: this.registry, prefix: `${prefix}_` });
  }

  private name(name: string): string {
    if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`bad metric name: ${name}`);
    return `${this.prefix}_${name}`;
  }

  /** What every metric of this registry is made with: its prefixed name, help and labels. */
  private options<L extends string>(name: string, help: string, labelNames: readonly L[]) {
    return { name: this.name(name), help, labelNames, registers: [this.registry] };
  }

  /** A counter; `name` must end in `_total`. */
  counter<L extends string = string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
  ): Counter<L> {
    if (!name.endsWith('_total')) throw new Error(`counter ${name} must end in _total`);
    return new Counter(this.options(name, help, labelNames));
  }

  gauge<L extends string = string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    collect?: (this: Gauge<L>) => void | Promise<void>,
  ): Gauge<L> {
    if (name.endsWith('_total')) throw new Error(`gauge ${name} must not end in _total`);
    return new Gauge({ ...this.options(name, help, labelNames), ...(collect ? { collect } : {}) });
  }

  histogram<L extends string = string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    buckets?: number[],
  ): Histogram<L> {
    return new Histogram({
      ...this.options(name, help, labelNames),
      ...(buckets ? { buckets } : {}),
    });
  }

  /** Prometheus text exposition of every metric in this registry. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** Latency buckets in seconds, from 0.5 ms to 30 s. */
export const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** Size buckets (events per request, records per batch). */
export const SIZE_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
