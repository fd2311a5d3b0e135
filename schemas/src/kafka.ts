import type { CustomerKind, UsageEvent } from './model.js';

/** Default name of the topic carrying usage events and freeze commands. */
export const USAGE_TOPIC = 'usage.events';

/** Header naming what a message on the usage topic holds (ADR 0001). */
export const KIND_HEADER = 'ms-kind';

/** Values of {@link KIND_HEADER}. A message without the header is a usage event. */
export const MESSAGE_KINDS = { usage: 'usage', freeze: 'freeze' } as const;

/** A value of {@link KIND_HEADER}. */
export type MessageKind = (typeof MESSAGE_KINDS)[keyof typeof MESSAGE_KINDS];

/** Registry subject of `io.meterstream.UsageEvent` on `topic` (TopicNameStrategy): `usage.events-value`. */
export function usageEventSubject(topic: string = USAGE_TOPIC): string {
  return `${topic}-value`;
}

/** Registry subject of `io.meterstream.FreezeCommand` on `topic` (TopicRecordNameStrategy). */
export function freezeCommandSubject(topic: string = USAGE_TOPIC): string {
  return `${topic}-io.meterstream.FreezeCommand`;
}

/**
 * The message kind of a record given its headers (as kafkajs delivers them): `usage` when the
 * header is missing, `undefined` for an unknown kind (the consumer decides: skip and count).
 */
export function messageKind(headers: Record<string, unknown> | undefined): MessageKind | undefined {
  const raw = headers?.[KIND_HEADER];
  if (raw === undefined) return 'usage';
  const v = Buffer.isBuffer(raw) ? raw.toString('utf8') : typeof raw === 'string' ? raw : undefined;
  return v === 'usage' || v === 'freeze' ? v : undefined;
}

/** The customer of an event as one string plus its kind (ADR 0001), or `undefined` if it has none. */
export function customerOf(
  ev: Pick<UsageEvent, 'customerIdentifier' | 'customerAwsAccountId'>,
): { customer: string; kind: CustomerKind } | undefined {
  if (ev.customerIdentifier !== null)
    return { customer: ev.customerIdentifier, kind: 'identifier' };
  if (ev.customerAwsAccountId !== null)
    return { customer: ev.customerAwsAccountId, kind: 'account' };
  return undefined;
}

/**
 * Kafka key of a message: `<productCode>|<customer>` (UTF-8), so one customer's events of one
 * product stay on one partition, in order. Freeze commands use the same key.
 */
export function messageKey(productCode: string, customer: string): string {
  return `${productCode}|${customer}`;
}

/**
 * Kafka key of a usage event. Uses `productCode`; an event that only has a `licenseArn` (a direct
 * producer that skipped normalization) is keyed by the ARN, which still keeps its customer's
 * events together but on a different partition than normalized ones — direct producers should
 * set `productCode`.
 *
 * @throws Error when the event has no product or no customer (validate it first).
 */
export function usageEventKey(ev: UsageEvent): string {
  const product = ev.productCode ?? ev.licenseArn;
  const c = customerOf(ev);
  if (product === null || c === undefined)
    throw new Error('usage event has no product or no customer');
  return messageKey(product, c.customer);
}
