// Table `submitter_hour_fills` (owner and only reader: submitter): which (hour, work partition)
// already had its zero records written, so a restart does not write them again.
import { defineTable } from './table.js';

/** Table `submitter_hour_fills`. */
export const SUBMITTER_HOUR_FILLS = defineTable({
  name: 'submitter_hour_fills',
  columns: ['hour DateTime', 'work_partition UInt16', 'instance_id String', 'filled_at DateTime'],
  engine: 'ReplacingMergeTree',
  orderBy: '(hour, work_partition)',
});
