// Tables only the aggregator reads and writes: partition ownership claims (ADR 0002) and the
// messages it could not decode.
import { defineTable } from './table.js';

/** Table `partition_owners`: claims of a partition, the highest `seq` owns it (fencing). */
export const PARTITION_OWNERS = defineTable({
  name: 'partition_owners',
  columns: ['kafka_partition UInt32', 'seq UInt64', 'owner String', "claimed_at DateTime('UTC')"],
  engine: 'MergeTree',
  orderBy: '(kafka_partition, seq)',
});

/** Table `usage_rejects`: Kafka messages that are not valid usage events, kept as they came. */
export const USAGE_REJECTS = defineTable({
  name: 'usage_rejects',
  columns: [
    'kafka_partition UInt32',
    'kafka_offset Int64',
    'reason String',
    'message_key String',
    'value_base64 String',
    "ingested_at DateTime('UTC')",
  ],
  engine: 'MergeTree',
  orderBy: '(kafka_partition, kafka_offset)',
});
