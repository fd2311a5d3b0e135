import { randomUUID } from 'node:crypto';
import { retry } from '@meterstream/runtime';
import type { Subscription } from '../state.js';
import type { Json } from '../wire.js';
import { agreementIdOf } from './licenses.js';

/** What happened to a license or its agreement (what the admin API did). */
export type LifecycleChange = 'created' | 'amended' | 'ended' | 'deprovisioned';

/** The event source of the SaaS agreement and license events (seller guide). */
export const EVENT_SOURCE = 'aws.agreement-marketplace';

/** An event as EventBridge delivers it (the envelope of the seller guide's examples). */
export interface MarketplaceEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Json;
}

/** What the events of one change are built from. */
export interface EventContext {
  seed: number;
  sellerAccountId: string;
  now: number;
  /** The product's id in the catalog (the emulator uses the product code). */
  productId?: string | undefined;
}

const iso = (ms: number | string | undefined): string | undefined =>
  ms === undefined ? undefined : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * The EventBridge events AWS Marketplace sends the seller for one change, in order: the agreement
 * event in its `- Proposer` and `- Manufacturer` variants (the seller of a public or private offer
 * is both) and, for a license, `License Updated - Manufacturer` or `License Deprovisioned -
 * Manufacturer`. Only agreements of a buyer account have events (legacy identifier-only
 * subscriptions have no acceptor).
 */
export function lifecycleEvents(
  change: LifecycleChange,
  sub: Subscription,
  c: EventContext,
): MarketplaceEvent[] {
  if (!sub.customerAwsAccountId) return [];
  const agreementId = agreementIdOf(c.seed, sub);
  const parties = {
    acceptor: { accountId: sub.customerAwsAccountId },
    proposer: { accountId: c.sellerAccountId },
    offer: { id: sub.offerId ?? `offer-${agreementId.slice(5, 17)}` },
  };
  const agreement =
    change === 'ended'
      ? { id: agreementId, status: sub.agreementStatus ?? 'CANCELLED' }
      : {
          id: agreementId,
          intent: change === 'created' ? 'NEW' : 'AMEND',
          status: sub.agreementStatus ?? 'ACTIVE',
          acceptanceTime: iso(sub.acceptedAt),
          startTime: iso(sub.startTime ?? sub.acceptedAt),
          endTime: iso(sub.endTime),
        };
  const event = (detailType: string, detail: Json): MarketplaceEvent => ({
    version: '0',
    id: randomUUID(),
    'detail-type': detailType,
    source: EVENT_SOURCE,
    account: c.sellerAccountId,
    time: iso(c.now) ?? '',
    region: 'us-east-1',
    resources: [`arn:aws:aws-marketplace::aws:agreement:${agreementId}`],
    detail: { requestId: randomUUID(), catalog: 'AWSMarketplace', ...detail },
  });
  const out: MarketplaceEvent[] = [];
  if (change !== 'deprovisioned') {
    const name = { created: 'Created', amended: 'Amended', ended: 'Ended' }[change];
    for (const role of ['Proposer', 'Manufacturer'])
      out.push(event(`Purchase Agreement ${name} - ${role}`, { agreement, ...parties }));
  }
  if (sub.licenseArn && change !== 'ended') {
    const name = change === 'deprovisioned' ? 'Deprovisioned' : 'Updated';
    out.push(
      event(`License ${name} - Manufacturer`, {
        agreement: { id: agreementId },
        product: { code: sub.productCode, id: c.productId ?? sub.productCode },
        license: { arn: sub.licenseArn },
        ...parties,
      }),
    );
  }
  return out;
}

/** Where events go, as an EventBridge API destination with an API-key connection sends them. */
export interface EventTarget {
  url: string;
  /** The connection's API key header (sent only when `secret` is set). */
  headerName: string;
  secret: string;
}

/** One event's delivery to the target. */
export interface Delivery {
  eventId: string;
  detailType: string;
  url: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  lastStatusCode?: number | undefined;
  lastError?: string | undefined;
  event: MarketplaceEvent;
}

/** How deliveries are retried (EventBridge retries throttling, 5xx and network errors). */
export interface RetryPolicy {
  attempts: number;
  baseMs: number;
  maxMs: number;
}

/** The most deliveries kept for the admin API. */
const KEPT_DELIVERIES = 10_000;

class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retriable: boolean,
    readonly statusCode?: number,
  ) {
    super(message);
  }
}

/**
 * Posts lifecycle events to the configured target, one after another, each retried with backoff
 * while the target answers 429 / 5xx or cannot be reached; keeps a record of every delivery.
 * Without a target nothing is built or sent.
 */
export class EventSender {
  private target: EventTarget | undefined;
  private readonly log: Delivery[] = [];
  private queue: Promise<void> = Promise.resolve();
  private readonly abort = new AbortController();

  constructor(
    target: EventTarget | undefined,
    private readonly policy: RetryPolicy = { attempts: 6, baseMs: 200, maxMs: 5000 },
  ) {
    this.target = target?.url ? target : undefined;
  }

  /** The current target, if any. */
  get current(): EventTarget | undefined {
    return this.target;
  }

  /** Sets (or with an empty url clears) the target. */
  setTarget(target: EventTarget): void {
    this.target = target.url ? target : undefined;
  }

  /** Whether events are wanted at all (a target is set). */
  get enabled(): boolean {
    return this.target !== undefined;
  }

  /** Queues the events for delivery. */
  send(events: MarketplaceEvent[]): void {
    const target = this.target;
    if (!target) return;
    for (const event of events) {
      const d: Delivery = {
        eventId: event.id,
        detailType: event['detail-type'],
        url: target.url,
        status: 'pending',
        attempts: 0,
        event,
      };
      this.log.push(d);
      if (this.log.length > KEPT_DELIVERIES) this.log.shift();
      this.queue = this.queue.then(() => this.deliver(d, target));
    }
  }

  /** Every delivery kept, oldest first. */
  deliveries(): Delivery[] {
    return [...this.log];
  }

  /** Resolves when every queued delivery has finished (delivered or failed). */
  async idle(): Promise<void> {
    await this.queue;
  }

  /** Stops retrying; pending deliveries fail. */
  async close(): Promise<void> {
    this.abort.abort();
    await this.queue;
  }

  private async deliver(d: Delivery, target: EventTarget): Promise<void> {
    const signal = this.abort.signal;
    try {
      await retry(
        async () => {
          d.attempts += 1;
          d.lastStatusCode = await post(d.event, target, signal).catch((err: unknown) => {
            if (err instanceof DeliveryError) d.lastStatusCode = err.statusCode;
            d.lastError = err instanceof Error ? err.message : String(err);
            throw err;
          });
        },
        { ...this.policy, signal },
      );
      d.status = 'delivered';
      d.lastError = undefined;
    } catch {
      d.status = 'failed';
    }
  }
}

/** One POST of an event (its 2xx status); throws a {@link DeliveryError} saying whether to retry. */
async function post(
  event: MarketplaceEvent,
  target: EventTarget,
  signal: AbortSignal,
): Promise<number> {
  let res: Response;
  try {
    res = await fetch(target.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(target.secret ? { [target.headerName]: target.secret } : {}),
      },
      body: JSON.stringify(event),
      signal,
    });
  } catch (err) {
    throw new DeliveryError(err instanceof Error ? err.message : String(err), !signal.aborted);
  }
  await res.arrayBuffer();
  if (res.ok) return res.status;
  const retriable = res.status === 429 || res.status >= 500;
  throw new DeliveryError(`HTTP ${res.status}`, retriable, res.status);
}
