/**
 * `@meterstream/schemas`: the records on `usage.events` (ADR 0001) — Avro schemas, the JSON
 * Schema of the HTTP form, their TypeScript types, exact quantity arithmetic, validation, the
 * Kafka key and headers. One source of truth: `model.ts`.
 */
export * from './model.js';
export * from './quantity.js';
export * from './avro.js';
export * from './json-schema.js';
export * from './validate.js';
export * from './kafka.js';
export { generatedFiles } from './files.js';
