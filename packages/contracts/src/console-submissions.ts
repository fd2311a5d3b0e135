// Table `console_submissions` (owner and reader: console): one row per line of every manual
// submission, with its actor, recorded before anything is sent.
import { defineTable } from './table.js';

/** Table `console_submissions`. */
export const CONSOLE_SUBMISSIONS = defineTable({
  name: 'console_submissions',
  columns: [
    'submission_id String',
    'line_index UInt32',
    'actor String',
    'product_code String',
    'customer String',
    'customer_kind String',
    'license_arn String',
    'dimension String',
    'hour DateTime',
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
