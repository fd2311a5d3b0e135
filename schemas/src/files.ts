import { FREEZE_COMMAND_AVRO, USAGE_EVENT_AVRO } from './avro.js';
import { USAGE_EVENT_JSON_SCHEMA } from './json-schema.js';

/**
 * The schema files generated from the model, by path relative to the `schemas/` directory.
 * Formatted as Prettier formats JSON (2-space indent, trailing newline), so the committed files
 * pass `prettier --check`.
 */
export function generatedFiles(): Record<string, string> {
  const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;
  return {
    'avro/usage-event.avsc': json(USAGE_EVENT_AVRO),
    'avro/freeze-command.avsc': json(FREEZE_COMMAND_AVRO),
    'json/usage-event.schema.json': json(USAGE_EVENT_JSON_SCHEMA),
  };
}
