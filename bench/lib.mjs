// What the benchmarks share. They run after the build (scripts/bench.mjs builds first), so they
// may use the built workspace packages.
import { Kafka, logLevel } from 'kafkajs';

export { HOUR_MS, hourStart, sleep } from '@meterstream/runtime';

/** A line on stdout. */
export const log = (s) => process.stdout.write(`${s}\n`);

/** `x` rounded to `d` decimals; null stays null. */
export const round = (x, d = 0) => (x === null ? null : Math.round(x * 10 ** d) / 10 ** d);

/** A Kafka client and a connected admin, with a fresh topic of `partitions` created. */
export async function benchTopic({ clientId, brokers, topic, partitions }) {
  const kafka = new Kafka({ clientId, brokers, logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
  });
  return { kafka, admin };
}
