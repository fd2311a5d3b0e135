// What the benchmarks share. They run after the build (scripts/bench.mjs builds first), so they
// may use the built workspace packages.
import pino from 'pino';
import { createKafkaClient, KAFKA_CLIENT_KINDS } from '@meterstream/kafka';

export { HOUR_MS, hourStart, sleep } from '@meterstream/runtime';

/** A line on stdout. */
export const log = (s) => process.stdout.write(`${s}\n`);

/** `x` rounded to `d` decimals; null stays null. */
export const round = (x, d = 0) => (x === null ? null : Math.round(x * 10 ** d) / 10 ** d);

/**
 * The Kafka clients a benchmark runs with: `--client kafkajs|platformatic|both` (or
 * BENCH_KAFKA_CLIENT); default both, one after the other in the same run.
 */
export function benchClients(argv = process.argv.slice(2)) {
  const i = argv.indexOf('--client');
  const wanted = (i >= 0 ? argv[i + 1] : process.env.BENCH_KAFKA_CLIENT) ?? 'both';
  if (wanted === 'both') return [...KAFKA_CLIENT_KINDS];
  if (!KAFKA_CLIENT_KINDS.includes(wanted))
    throw new Error(`--client must be one of ${KAFKA_CLIENT_KINDS.join(', ')} or both`);
  return [wanted];
}

/** A @meterstream/kafka client of `kind` (warnings only). */
export function benchKafka(kind, { clientId, brokers }) {
  return createKafkaClient({
    client: kind,
    brokers,
    clientId: `${clientId}-${kind}`,
    logger: pino({ level: 'warn' }),
  });
}

/** A connected admin (kafkajs), with a fresh topic of `partitions` created. */
export async function benchTopic({ clientId, brokers, topic, partitions }) {
  const admin = benchKafka('kafkajs', { clientId, brokers }).admin();
  await admin.connect();
  await admin.createTopic({ topic, partitions, replicationFactor: 1 });
  return { admin };
}
