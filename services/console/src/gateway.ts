import { MeterstreamError } from '@meterstream/errors';
import type { ClickHouse } from '@meterstream/clickhouse';
import { allowIdentifiers, sql } from '@meterstream/clickhouse';
import {
  registerAvro,
  toKafkaError,
  type KafkaProducer,
  type ProduceMessage,
  type SchemaRegistry,
} from '@meterstream/kafka';
import type { Logger } from '@meterstream/observability';
import {
  FREEZE_COMMAND_AVRO,
  KIND_HEADER,
  USAGE_EVENT_AVRO,
  freezeCommandSubject,
  messageKey,
  usageEventSubject,
  type FreezeCommand,
  type UsageEvent,
} from '@meterstream/schemas';
import { MINUTE_MS, SECOND_MS, sleep } from '@meterstream/runtime';
import { LEDGER, USAGE_WINDOWS, type Table } from '@meterstream/contracts';
import { keysIn } from './clickhouse-data.js';
import { lineKey, type Submission, type SubmissionGateway } from './model.js';

/** Settings of {@link KafkaSubmissionGateway}. */
export interface KafkaGatewayOptions {
  producer: KafkaProducer;
  registry: SchemaRegistry;
  topic: string;
  /** Submitter control API base URL (`POST /v1/run`). */
  submitterUrl: string;
  ch: ClickHouse;
  database: string;
  logger: Logger;
  /** How long to keep nudging the submitter for one submission. */
  followUpMs?: number;
  pollMs?: number;
}

/**
 * The real path of a manual submission (ADR 0001): one usage event per line (source `console`,
 * actor = the user, id = `console:<submission>:<line>` so a re-send adds nothing), then a
 * FreezeCommand per customer for those dimensions and that hour, on the customer's key so it is
 * ordered after the usage. All in one idempotent producer send. Then, in the background, it waits
 * for the early-frozen windows and asks the submitter to run now (`POST /v1/run`), again until the
 * ledger has every record, so the records go out at once instead of at the next tick.
 */
export class KafkaSubmissionGateway implements SubmissionGateway {
  private ids: Promise<{ usage: number; freeze: number }> | undefined;
  private readonly followUps = new Set<Promise<void>>();
  private closed = false;
  private readonly log: Logger;

  constructor(private readonly o: KafkaGatewayOptions) {
    this.log = o.logger.child({ module: 'submission-gateway' });
    // Checked once here, so a bad database name fails at start, not at the first send.
    allowIdentifiers(o.database);
    USAGE_WINDOWS.in(o.database);
  }

  private schemaIds(): Promise<{ usage: number; freeze: number }> {
    this.ids ??= (async () => ({
      usage: await registerAvro(this.o.registry, usageEventSubject(this.o.topic), USAGE_EVENT_AVRO),
      freeze: await registerAvro(
        this.o.registry,
        freezeCommandSubject(this.o.topic),
        FREEZE_COMMAND_AVRO,
      ),
    }))();
    this.ids.catch(() => {
      this.ids = undefined;
    });
    return this.ids;
  }

  /** The messages of a submission: its usage events, then one FreezeCommand per customer. */
  async messages(s: Submission): Promise<ProduceMessage[]> {
    const ids = await this.schemaIds();
    const out: ProduceMessage[] = [];
    for (const l of s.lines) {
      const ev: UsageEvent = {
        id: l.eventId,
        productCode: s.productCode,
        licenseArn: l.customerKind === 'account' && l.licenseArn ? l.licenseArn : null,
        customerIdentifier: l.customerKind === 'identifier' ? l.customer : null,
        customerAwsAccountId: l.customerKind === 'account' ? l.customer : null,
        dimension: l.dimension,
        quantity: l.quantity,
        timestamp: s.at.getTime(),
        allocations: [],
        source: 'console',
        actor: s.actor,
        attributes: { submissionId: s.id },
      };
      out.push({
        key: messageKey(s.productCode, l.customer),
        value: await this.o.registry.encode(ids.usage, ev),
        headers: { [KIND_HEADER]: 'usage' },
      });
    }
    const customers = [...new Set(s.lines.map((l) => l.customer))];
    for (const [i, customer] of customers.entries()) {
      const lines = s.lines.filter((l) => l.customer === customer);
      const cmd: FreezeCommand = {
        requestId: `console:${s.id}:${i}`,
        productCode: s.productCode,
        customer,
        customerKind: lines[0]?.customerKind ?? 'identifier',
        dimensions: lines.map((l) => l.dimension),
        hour: s.hour.getTime(),
        requestedBy: s.actor,
        requestedAt: s.at.getTime(),
      };
      out.push({
        key: messageKey(s.productCode, customer),
        value: await this.o.registry.encode(ids.freeze, cmd),
        headers: { [KIND_HEADER]: 'freeze' },
      });
    }
    return out;
  }

  async send(s: Submission): Promise<void> {
    if (this.closed) throw new MeterstreamError('SHUTTING_DOWN', 'console is shutting down');
    const messages = await this.messages(s);
    try {
      await this.o.producer.send(this.o.topic, messages);
    } catch (err) {
      throw toKafkaError(err, 'send manual usage');
    }
    const p = this.followUp(s).catch((err: unknown) =>
      this.log.warn({ err, submissionId: s.id }, 'follow-up failed'),
    );
    this.followUps.add(p);
    void p.finally(() => this.followUps.delete(p));
  }

  /** Asks the submitter to run once the windows are frozen, until the ledger has every record. */
  private async followUp(s: Submission): Promise<void> {
    const deadline = Date.now() + (this.o.followUpMs ?? 2 * MINUTE_MS);
    const pollMs = this.o.pollMs ?? 300;
    const keys = keysIn(s.lines.map((l) => lineKey(s, l)));
    const count = async (table: Table): Promise<number> => {
      const [r] = await this.o.ch.query<{ n: string | number }>(
        sql`SELECT count() AS n FROM (SELECT DISTINCT product_code, customer, dimension, hour FROM ${table.in(this.o.database)}
          WHERE ${keys})`,
      );
      return Number(r?.n ?? 0);
    };
    let lastRun = 0;
    while (!this.closed && Date.now() < deadline) {
      const inLedger = await count(LEDGER).catch(() => 0);
      if (inLedger >= s.lines.length) return;
      const frozen = await count(USAGE_WINDOWS).catch(() => 0);
      if (frozen >= s.lines.length && Date.now() - lastRun > 2 * SECOND_MS) {
        lastRun = Date.now();
        await this.runSubmitter().catch((err: unknown) =>
          this.log.warn({ err }, 'submitter run request failed'),
        );
      }
      await sleep(pollMs);
    }
  }

  /** `POST /v1/run` on the submitter's control API. */
  async runSubmitter(): Promise<string> {
    const res = await fetch(new URL('/v1/run', this.o.submitterUrl), {
      method: 'POST',
      signal: AbortSignal.timeout(5 * SECOND_MS),
    });
    if (res.status !== 202)
      throw new MeterstreamError('OVERLOADED', `submitter answered ${res.status} to /v1/run`);
    const body = (await res.json()) as { runId?: string };
    return body.runId ?? '';
  }

  /**
   * Ready while open. The submitter being down does not make the console unready: reads still
   * work, and a manual send is durable in Kafka and goes out when the submitter is back.
   */
  async ready(): Promise<boolean> {
    return !this.closed;
  }

  /** Stops follow-ups and waits for those in flight; idempotent. The producer is closed by its owner. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.followUps]);
  }
}
