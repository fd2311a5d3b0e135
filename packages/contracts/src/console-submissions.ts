// Table `console_submissions` (owner and reader: console): one row per line of every manual
// submission, with its actor, recorded before anything is sent.
import { USAGE_KEY_COLUMNS, defineTable } from './table.js';

/** Table `console_submissions`. */
export const CONSOLE_SUBMISSIONS = defineTable({
  name: 'console_submissions',
  columns: [
    'submission_id String',
    'line_index UInt32',
    'actor String',
    ...USAGE_KEY_COLUMNS,
    'at_ms UInt64',
    'quantity String',
    'quantity_micros Int64',
    'event_id String',
    'created_at DateTime',
  ],
  engine: 'ReplacingMergeTree',
  partitionBy: 'toYYYYMM(hour)',
  orderBy: '(submission_id, line_index)',
});
