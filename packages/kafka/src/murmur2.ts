/**
 * Kafka's murmur2 (Java `org.apache.kafka.common.utils.Utils.murmur2`), in 32-bit integer
 * arithmetic: the hash every Java-compatible producer uses to place a keyed record.
 */
export function murmur2(key: Buffer | string): number {
  const data = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  const m = 0x5bd1e995;
  const length = data.length;
  let h = 0x9747b28c ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data.readInt32LE(i);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= (data[whole + 2]! & 0xff) << 16;
    if (rest >= 2) h ^= (data[whole + 1]! & 0xff) << 8;
    h ^= data[whole]! & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** Java's `Utils.toPositive`: the hash with its sign bit cleared (not its absolute value). */
export function toPositive(hash: number): number {
  return hash & 0x7fffffff;
}

/**
 * The partition Kafka's default partitioner (Java, and kafkajs `Partitioners.DefaultPartitioner`)
 * gives a keyed record: `toPositive(murmur2(key)) % partitions`. The aggregator and the submitter
 * reason about partitions, so every producer of ADR 0001 keys must agree on this.
 */
export function partitionForKey(key: Buffer | string, partitions: number): number {
  return toPositive(murmur2(key)) % partitions;
}
