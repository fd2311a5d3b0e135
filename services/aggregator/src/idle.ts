import type { KafkaAdmin, KafkaClient } from '@meterstream/kafka';
import type { Logger } from '@meterstream/observability';
import type { AggregatorConfig } from './config.js';
import type { ConsumerGroup } from './consumer.js';
import type { AggregatorMetrics } from './metrics.js';
import { BatchAborted, type PartitionWorker, type WorkContext } from './partition.js';

/**
 * The processing-time fallback: every `tickMs`, the hours of a partition that has nothing left to
 * read and has been idle for `idleMs` are frozen by the wall clock. Only then: with a backlog
 * (after downtime, or while batches fail because ClickHouse is down) freezing by the wall clock
 * would carry the backlog's usage into later hours.
 */
export class IdleFreezer {
  private readonly admin: KafkaAdmin;
  private readonly ticking = new Set<number>();
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    kafka: KafkaClient,
    private readonly group: ConsumerGroup,
    private readonly config: AggregatorConfig,
    private readonly clock: () => number,
    private readonly metrics: AggregatorMetrics,
    private readonly logger: Logger,
  ) {
    this.admin = kafka.admin();
  }

  async start(): Promise<void> {
    await this.admin.connect();
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.tick().finally(() => {
        this.running = undefined;
      });
    }, this.config.tickMs);
  }

  /** No more ticks (at once); resolves when the one running, if any, has finished. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  async disconnect(): Promise<void> {
    await this.admin.disconnect();
  }

  /** Which partitions have nothing left to read (and the lag of the assigned ones, as a metric). */
  private async caughtUp(): Promise<Map<number, boolean>> {
    const { topic, groupId } = this.config;
    const out = new Map<number, boolean>();
    const [high, committed] = await Promise.all([
      this.admin.topicOffsets(topic),
      this.admin.groupOffsets(groupId, topic),
    ]);
    const commits = new Map(committed.map((c) => [c.partition, BigInt(c.offset)]));
    for (const h of high) {
      const hw = BigInt(h.high);
      const low = BigInt(h.low);
      const w = this.group.workers.get(h.partition);
      const consumed = w && w.lastOffset !== '-1' ? BigInt(w.lastOffset) + 1n : -1n;
      const commit = commits.get(h.partition) ?? -1n;
      const position = consumed > commit ? consumed : commit;
      out.set(h.partition, position >= 0n ? position >= hw : hw === low);
      if (this.group.assigned.has(h.partition)) {
        const lag = position >= 0n ? hw - position : hw - low;
        this.metrics.consumerLag.set(
          { partition: String(h.partition) },
          Number(lag > 0n ? lag : 0n),
        );
      }
    }
    return out;
  }

  private async tick(): Promise<void> {
    const gen = this.group.generation;
    let idleOk: Map<number, boolean>;
    try {
      idleOk = await this.caughtUp();
    } catch (err) {
      this.logger.warn({ err }, 'cannot read partition offsets; no idle freeze this tick');
      return;
    }
    for (const p of [...this.group.assigned]) {
      const w = this.group.workers.get(p);
      if (!w || this.ticking.has(p) || this.group.stopping || idleOk.get(p) !== true) continue;
      this.ticking.add(p);
      try {
        await this.freezeIdle(w, gen);
      } catch (err) {
        w.invalidate();
        if (!(err instanceof BatchAborted))
          this.logger.error({ err, partition: p }, 'idle freeze failed');
      } finally {
        this.ticking.delete(p);
      }
    }
  }

  private freezeIdle(w: PartitionWorker, gen: number): Promise<void> {
    const p = w.partition;
    const ctx: WorkContext = {
      alive: () =>
        !this.group.stopping && gen === this.group.generation && this.group.assigned.has(p),
      heartbeat: async () => {},
    };
    return w.runExclusive(async () => {
      if (Date.now() - w.lastMessageAt < this.config.idleMs || !ctx.alive()) return;
      const now = this.clock();
      await w.ensureLoaded(ctx);
      if (w.freezeDue(now, true)) await w.freezeThrough(w.dueHour(now), ctx, 'idle');
    });
  }
}
