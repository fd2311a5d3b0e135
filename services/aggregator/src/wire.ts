/**
 * The Kafka side of ADR 0001 as the aggregator reads it. The contract itself (header, subjects,
 * key, Avro schemas) is `@meterstream/schemas`, the one source of truth; this module adds the
 * decoded value shapes and the hot-path quantity parser.
 */
import { FREEZE_COMMAND_AVRO, USAGE_EVENT_AVRO } from '@meterstream/schemas';

export {
  KIND_HEADER,
  freezeCommandSubject,
  messageKey,
  usageEventSubject,
} from '@meterstream/schemas';

/** Avro `io.meterstream.UsageEvent` (ADR 0001). */
export const USAGE_EVENT_SCHEMA = USAGE_EVENT_AVRO;

/** Avro `io.meterstream.FreezeCommand` (ADR 0001). */
export const FREEZE_COMMAND_SCHEMA = FREEZE_COMMAND_AVRO;

/** A decoded usage event (fields as ADR 0001 names them). */
export interface UsageEventValue {
  id: string;
  productCode: string | null;
  licenseArn: string | null;
  customerIdentifier: string | null;
  customerAwsAccountId: string | null;
  dimension: string;
  quantity: string;
  timestamp: number;
  allocations: { quantity: string; tags: Record<string, string> }[];
  source: string;
  actor: string | null;
  attributes: Record<string, string>;
}

/** A decoded freeze command. */
export interface FreezeCommandValue {
  requestId: string;
  productCode: string;
  customer: string;
  customerKind: string;
  dimensions: string[];
  hour: number;
  requestedBy: string;
  requestedAt: number;
}

const QUANTITY = /^(\d{1,10})(?:\.(\d{1,6}))?$/;

/**
 * Exact decimal quantity → integer micro-units as a decimal string (no float, no bigint on the hot
 * path), or `undefined` when the string is not a valid quantity.
 */
export function quantityToMicros(q: string): string | undefined {
  const m = QUANTITY.exec(q);
  if (!m) return undefined;
  const digits = (m[1] ?? '') + (m[2] ?? '').padEnd(6, '0');
  const trimmed = digits.replace(/^0+(?=\d)/, '');
  return trimmed;
}
