import { toKafkaError, type KafkaProducer } from '@meterstream/kafka';
import { MeterstreamError } from '@meterstream/errors';

/** One Kafka record to produce (placed by the Java murmur2 partitioner on its key). */
export interface OutRecord {
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

/** Where accepted events go. The server answers 202 only after `send` resolved. */
export interface EventSink {
  /** Reserves room for `n` in-flight events; false when the in-flight limit is reached (503). */
  reserve(n: number): boolean;
  /** Gives back what {@link reserve} took, once the request is answered. */
  release(n: number): void;
  /** Resolves when Kafka acknowledged every record (acks=all); rejects with a retriable error otherwise. */
  send(records: OutRecord[]): Promise<void>;
  /** Events reserved and not yet released. */
  readonly inFlight: number;
}

/** Options of {@link KafkaSink}. */
export interface KafkaSinkOptions {
  topic: string;
  maxInFlightEvents: number;
  /** Largest sum of value sizes in one produce call. */
  maxSendBytes: number;
  /** A request not acknowledged within this is answered 503. */
  timeoutMs: number;
  /** Extra coalescing wait before a send when none is in flight. */
  lingerMs: number;
  /** Called with the duration of each produce call and its outcome. */
  onSend?: (seconds: number, records: number, ok: boolean) => void;
  /** Called when a producer is replaced after a failure. */
  onReset?: () => void;
}

interface Pending {
  remaining: number;
  settled: boolean;
  resolve: () => void;
  reject: (err: MeterstreamError) => void;
}

interface Chunk {
  records: OutRecord[];
  bytes: number;
  parent: Pending;
}

/**
 * Sends to Kafka with group commit: requests that arrive while a produce call is in flight are
 * coalesced into the next call. The idempotent producer (either client) serializes produce
 * requests per broker anyway, so one call at a time loses nothing and turns many small requests into few big
 * ones. A request resolves when every record of it was acknowledged; a request that waited
 * longer than `timeoutMs` is rejected (its unsent chunks are dropped, so a 503 usually means
 * "nothing written" — and when part was written, the client's re-send with the same ids is
 * deduplicated downstream).
 */
export class KafkaSink implements EventSink {
  private queue: Chunk[] = [];
  private sending = false;
  private reserved = 0;
  private idle: (() => void)[] = [];
  private producer: KafkaProducer | undefined;
  private broken = false;
  private producers = 0;

  /**
   * @param newProducer makes an idempotent producer (not yet connected). After a failed send the
   *   sink throws its producer away and makes a new one before the next send — see {@link flush}.
   */
  constructor(
    private readonly newProducer: () => KafkaProducer,
    private readonly options: KafkaSinkOptions,
  ) {}

  /** Connects the first producer (fails when Kafka is unreachable at start). */
  async start(): Promise<void> {
    await this.current();
  }

  /** How many producers were created (1 + resets after failures); for tests and metrics. */
  get producerGenerations(): number {
    return this.producers;
  }

  /** Disconnects the producer; call after {@link drained}. */
  async close(): Promise<void> {
    const p = this.producer;
    this.producer = undefined;
    await p?.disconnect();
  }

  private async current(): Promise<KafkaProducer> {
    if (this.producer && !this.broken) return this.producer;
    const old = this.producer;
    this.producer = undefined;
    if (old) await old.disconnect().catch(() => undefined);
    const p = this.newProducer();
    if (this.producers++ > 0) this.options.onReset?.();
    await p.connect();
    this.producer = p;
    this.broken = false;
    return p;
  }

  get inFlight(): number {
    return this.reserved;
  }

  reserve(n: number): boolean {
    // One request larger than the limit is still admitted when nothing else is in flight.
    if (this.reserved > 0 && this.reserved + n > this.options.maxInFlightEvents) return false;
    this.reserved += n;
    return true;
  }

  release(n: number): void {
    this.reserved = Math.max(0, this.reserved - n);
    if (this.reserved === 0) for (const f of this.idle.splice(0)) f();
  }

  /** Resolves when nothing is in flight (for graceful shutdown). */
  drained(): Promise<void> {
    if (this.reserved === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  send(records: OutRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const parent: Pending = { remaining: 0, settled: false, resolve, reject };
      let chunk: Chunk = { records: [], bytes: 0, parent };
      for (const r of records) {
        const size = r.value.length + r.key.length + 32;
        if (chunk.records.length > 0 && chunk.bytes + size > this.options.maxSendBytes) {
          this.queue.push(chunk);
          parent.remaining++;
          chunk = { records: [], bytes: 0, parent };
        }
        chunk.records.push(r);
        chunk.bytes += size;
      }
      this.queue.push(chunk);
      parent.remaining++;
      const timer = setTimeout(() => {
        this.settle(
          parent,
          new MeterstreamError(
            'KAFKA_UNAVAILABLE',
            `Kafka did not acknowledge within ${this.options.timeoutMs} ms`,
          ),
        );
        // Chunks not yet handed to Kafka are dropped: nothing of them is written.
        this.queue = this.queue.filter((c) => c.parent !== parent);
      }, this.options.timeoutMs);
      parent.resolve = () => {
        clearTimeout(timer);
        resolve();
      };
      const rejectOnce = reject;
      parent.reject = (err) => {
        clearTimeout(timer);
        rejectOnce(err);
      };
      this.pump();
    });
  }

  private settle(p: Pending, err?: MeterstreamError): void {
    if (p.settled) return;
    p.settled = true;
    if (err) p.reject(err);
    else p.resolve();
  }

  private pump(): void {
    if (this.sending || this.queue.length === 0) return;
    this.sending = true;
    if (this.options.lingerMs > 0) setTimeout(() => this.flush(), this.options.lingerMs);
    else setImmediate(() => this.flush());
  }

  private flush(): void {
    const batch: Chunk[] = [];
    let bytes = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (batch.length > 0 && bytes + next.bytes > this.options.maxSendBytes) break;
      this.queue.shift();
      if (next.parent.settled) continue;
      batch.push(next);
      bytes += next.bytes;
    }
    if (batch.length === 0) {
      this.sending = false;
      return;
    }
    const messages = batch.flatMap((c) => c.records);
    const started = process.hrtime.bigint();
    const done = (ok: boolean): void => {
      this.options.onSend?.(Number(process.hrtime.bigint() - started) / 1e9, messages.length, ok);
      this.sending = false;
      this.pump();
    };
    this.current()
      .then((producer) => producer.send(this.options.topic, messages))
      .then(
        () => {
          for (const c of batch) if (--c.parent.remaining === 0) this.settle(c.parent);
          done(true);
        },
        (err: unknown) => {
          // kafkajs rolls the idempotence sequence back when a send fails, but the broker may have
          // written the batch before the connection broke. The next batch would then reuse those
          // sequence numbers and could be discarded by the broker as a "duplicate" while answered
          // as success. A new producer gets a new producer id, so that cannot happen (ADR 0003;
          // @platformatic/kafka fetches a new id by itself, the replacement costs it nothing).
          this.broken = true;
          const e = toKafkaError(err, 'produce');
          // Whatever the client says, an unsaved event is "try again later" for the client (503).
          const retriable = e.retriable
            ? e
            : new MeterstreamError('KAFKA_UNAVAILABLE', e.message, { cause: err });
          for (const c of batch) this.settle(c.parent, retriable);
          done(false);
        },
      );
  }
}
