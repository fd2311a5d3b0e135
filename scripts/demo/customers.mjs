// The demo's customers: four subscription customers and two contract accounts whose partition
// keys (`<productCode>|<customer>`, ADR 0001) cover every partition of the topic: an hour is
// frozen topic-wide only when every partition froze it, and a partition that never saw an event
// records its frozen hours only from its first idle tick on (ADR 0002).
import { randomBytes, randomInt } from 'node:crypto';
import { partitionForKey } from '@meterstream/kafka';

/** Partitions of the demo's usage topic. */
export const PARTITIONS = 3;

/**
 * The partition Kafka's default (murmur2) partitioner gives `key` in a topic of `n` partitions:
 * the one ingest's producer picks, with either Kafka client (@meterstream/kafka).
 */
export function partitionOf(key, n) {
  return partitionForKey(key, n);
}

/** The partition of a customer's events. */
export const partitionOfCustomer = (c) => partitionOf(`${c.plan.productCode}|${c.id}`, PARTITIONS);

function candidates(salt, subPlan, conPlan) {
  const subs = ['acme', 'globex', 'initech', 'umbrella'].map((n) => ({
    plan: subPlan,
    id: `${n}-${salt}`,
    kind: 'identifier',
  }));
  const cons = [0, 1].map(() => {
    const acct = String(randomInt(100000, 999999)) + String(randomInt(100000, 999999));
    return {
      plan: conPlan,
      id: acct,
      kind: 'account',
      licenseArn: `arn:aws:license-manager::${acct}:license:l-${randomBytes(16).toString('hex')}`,
    };
  });
  return [...subs, ...cons];
}

/** Customers whose keys cover every partition of the topic; undefined if none are found. */
export function pickCustomers(run, subPlan, conPlan) {
  for (let attempt = 0; attempt <= 201; attempt++) {
    const all = candidates(attempt === 0 ? run : `${run}${attempt}`, subPlan, conPlan);
    if (new Set(all.map(partitionOfCustomer)).size === PARTITIONS) return all;
  }
  return undefined;
}

/** Contract entitlements per `<account>|<dimension>`: one customer stays below, the other goes beyond. */
export function contractEntitlements(customers) {
  const [conA, conB] = customers.filter((c) => c.kind === 'account');
  return new Map([
    [`${conA.id}|seats`, 40],
    [`${conA.id}|compute_hours`, 30],
    [`${conB.id}|seats`, 400],
    [`${conB.id}|compute_hours`, 2000],
  ]);
}
