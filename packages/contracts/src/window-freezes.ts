// Table `window_freezes` (owner: aggregator; read by the submitter and the auditor): one row per
// (partition, hour) once every window of that hour on that partition is written. An hour is frozen
// topic-wide when every partition of usage.events has its row.
import { defineTable } from './table.js';

/** Table `window_freezes`. */
export const WINDOW_FREEZES = defineTable({
  name: 'window_freezes',
  columns: [
    'kafka_partition UInt32',
    "hour DateTime('UTC')",
    "frozen_at DateTime('UTC')",
    "watermark DateTime('UTC')",
    'kafka_offset Int64',
    'owner String',
  ],
  engine: 'ReplacingMergeTree',
  orderBy: '(kafka_partition, hour)',
});
