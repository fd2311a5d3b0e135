import { AwsError } from '../aws-error.js';
import { readQuantity, type Quantity } from '../quantity.js';
import { str, type Json } from '../wire.js';

/** AWS's tag character set. */
const TAG_RE = /^[a-zA-Z0-9+ -=._:/@]+$/;

/** One allocation's tags: valid characters and lengths, no key twice. */
function checkTags(tags: Json[]): void {
  const keys = new Set<string>();
  for (const t of tags) {
    const k = str(t.Key) ?? '';
    const v = str(t.Value) ?? '';
    if (!TAG_RE.test(k) || k.length > 100 || !TAG_RE.test(v) || v.length > 256) {
      throw new AwsError(
        'InvalidTagException',
        'A tag key or value has invalid characters or length',
      );
    }
    if (keys.has(k))
      throw new AwsError('InvalidTagException', `Tag key ${k} appears twice in one allocation`);
    keys.add(k);
  }
}

/**
 * One allocation's quantity: exactly one of `AllocatedUsageQuantity` / `…AsDecimal`, of the same kind
 * as the record's ("allocations must use the same type of quantity as the usage record").
 */
function allocated(a: Json, kind: Quantity['kind']): bigint {
  const q = readQuantity(
    a.AllocatedUsageQuantity,
    a.AllocatedUsageQuantityAsDecimal,
    'AllocatedUsageQuantity',
  );
  if (q.absent || q.kind !== kind) {
    const member =
      kind === 'decimal' ? 'AllocatedUsageQuantityAsDecimal' : 'AllocatedUsageQuantity';
    throw new AwsError(
      'InvalidUsageAllocationsException',
      `Each usage allocation of this record must set ${member}`,
    );
  }
  return q.micros;
}

/**
 * A record's `UsageAllocations`, if any: valid tags, no two allocations with the same tags, each
 * with a quantity of the record's kind, adding up to the record's `quantity` (in millionths).
 */
export function checkAllocations(allocations: unknown, quantity: Quantity): void {
  if (!Array.isArray(allocations)) return;
  let sum = 0n;
  const tagSets = new Set<string>();
  for (const a of allocations as Json[]) {
    sum += allocated(a, quantity.kind);
    const tags = (Array.isArray(a.Tags) ? a.Tags : []) as Json[];
    checkTags(tags);
    const set = JSON.stringify(tags.map((t) => [t.Key, t.Value]).sort());
    if (tagSets.has(set)) {
      throw new AwsError(
        'InvalidUsageAllocationsException',
        'Two usage allocations have the same tags',
      );
    }
    tagSets.add(set);
  }
  if (sum !== quantity.micros) {
    throw new AwsError(
      'InvalidUsageAllocationsException',
      'The sum of the allocated quantities does not equal the record quantity',
    );
  }
}
