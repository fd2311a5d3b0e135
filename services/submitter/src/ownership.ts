import {
  createKafkaClient,
  ensureTopic,
  type KafkaClientKind,
  type KafkaConsumer,
  withAdmin,
} from '@meterstream/kafka';
import type { Logger } from '@meterstream/observability';

/**
 * Which key buckets (work partitions) this instance may freeze and send now. Every key
 * (product, customer) hashes to one bucket; only the bucket's owner writes its ledger records and
 * calls AWS for them.
 */
export interface Ownership {
  readonly partitions: number;
  start(): Promise<void>;
  /** Buckets this instance may freeze and send right now. */
  sendable(): number[];
  /** True when `bucket` may still be sent (checked again before every call). */
  maySend(bucket: number): boolean;
  ready(): boolean;
  close(): Promise<void>;
}

/** One instance owns every bucket (single-instance deployments, tests of the ledger alone). */
export class StaticOwnership implements Ownership {
  constructor(readonly partitions: number) {}
  async start(): Promise<void> {}
  sendable(): number[] {
    return Array.from({ length: this.partitions }, (_, i) => i);
  }
  maySend(): boolean {
    return true;
  }
  ready(): boolean {
    return true;
  }
  async close(): Promise<void> {}
}

/** Settings of {@link KafkaOwnership}. */
export interface KafkaOwnershipConfig {
  /** The Kafka client library (`MS_KAFKA_CLIENT`). */
  client: KafkaClientKind;
  brokers: string[];
  clientId: string;
  topic: string;
  partitions: number;
  groupId: string;
  sessionTimeoutMs: number;
  /** Wait after gaining a bucket before sending it: longer than one AWS call can stay in flight. */
  handoverMs: number;
  now?: () => number;
}

/**
 * Bucket ownership through a Kafka consumer group on a control topic (`submitter.work`, one
 * partition per bucket, no messages needed). The group coordinator assigns each partition to one
 * live member. Three rules make that an exclusion of senders, not just of consumers:
 * - when a rebalance starts (`onRevoked`) an instance stops at once (eager protocol: nobody gets
 *   the new assignment before every member has rejoined, i.e. given its buckets up); a crash, a
 *   stop or a lost connection revokes too;
 * - a new owner waits `handoverMs` (> the AWS call timeout) before sending, so a call the old
 *   owner started before giving up has ended;
 * - an instance that has not had a successful heartbeat for half the session timeout stops by
 *   itself: the coordinator gives its buckets away only after the full session timeout, plus the
 *   new owner's handover wait.
 */
export class KafkaOwnership implements Ownership {
  readonly partitions: number;
  private consumer: KafkaConsumer | undefined;
  private readonly acquiredAt = new Map<number, number>();
  private lastHeartbeat = 0;
  private joined = false;
  private readonly now: () => number;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly config: KafkaOwnershipConfig,
    private readonly logger: Logger,
  ) {
    this.partitions = config.partitions;
    this.now = config.now ?? Date.now;
  }

  async start(): Promise<void> {
    const kafka = createKafkaClient({
      client: this.config.client,
      brokers: this.config.brokers,
      clientId: this.config.clientId,
      logger: this.logger,
    });
    await withAdmin(kafka, (admin) =>
      ensureTopic(admin, {
        topic: this.config.topic,
        partitions: this.config.partitions,
        replicationFactor: 1,
      }),
    );
    const consumer = kafka.consumer({
      groupId: this.config.groupId,
      sessionTimeoutMs: this.config.sessionTimeoutMs,
      rebalanceTimeoutMs: this.config.sessionTimeoutMs,
      heartbeatIntervalMs: Math.max(250, Math.floor(this.config.sessionTimeoutMs / 10)),
      maxWaitTimeMs: Math.max(100, Math.floor(this.config.sessionTimeoutMs / 10)),
    });
    this.consumer = consumer;
    await consumer.run({
      topics: [this.config.topic],
      fromBeginning: false,
      // A rebalance, a crash, a stop or a lost connection: the client revokes before anything else.
      onRevoked: () => this.revokeAll('revoked'),
      onCrash: () => this.revokeAll('crash'),
      onHeartbeat: () => {
        this.lastHeartbeat = this.now();
      },
      onAssigned: ({ generation, partitions }) =>
        this.assigned(partitions[this.config.topic] ?? [], generation),
      // The control topic carries no messages; any that appear are passed over.
      eachBatch: async ({ batch, resolveOffset }) => {
        const last = batch.messages[batch.messages.length - 1];
        if (last) resolveOffset(last.offset);
      },
    });
  }

  private assigned(buckets: number[], generation: number): void {
    const assigned = new Set(buckets);
    const now = this.now();
    for (const p of [...this.acquiredAt.keys()]) if (!assigned.has(p)) this.acquiredAt.delete(p);
    for (const p of assigned) if (!this.acquiredAt.has(p)) this.acquiredAt.set(p, now);
    this.lastHeartbeat = now;
    this.joined = true;
    this.logger.info(
      { buckets: [...assigned].sort((a, b) => a - b), generation },
      'work buckets assigned',
    );
  }

  private revokeAll(why: string): void {
    if (this.acquiredAt.size > 0) this.logger.info({ why }, 'work buckets released');
    this.acquiredAt.clear();
  }

  private fresh(): boolean {
    return this.now() - this.lastHeartbeat < this.config.sessionTimeoutMs / 2;
  }

  maySend(bucket: number): boolean {
    const at = this.acquiredAt.get(bucket);
    return at !== undefined && this.now() - at >= this.config.handoverMs && this.fresh();
  }

  sendable(): number[] {
    return [...this.acquiredAt.keys()].filter((p) => this.maySend(p)).sort((a, b) => a - b);
  }

  ready(): boolean {
    return this.joined && this.fresh();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.revokeAll('close');
      await this.consumer?.disconnect();
    })();
    return this.closing;
  }
}
