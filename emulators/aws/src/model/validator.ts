/** One botocore shape (only the keys the validator reads). */
export interface Shape {
  type: string;
  members?: Record<string, { shape: string }>;
  required?: string[];
  member?: { shape: string };
  key?: { shape: string };
  value?: { shape: string };
  min?: number;
  max?: number;
  pattern?: string;
  enum?: string[];
  /** A union: exactly one member is set. */
  union?: boolean;
  exception?: boolean;
  fault?: boolean;
  [other: string]: unknown;
}

/** An operation: input, output and modeled error shape names. */
export interface OperationModel {
  input: string;
  output: string;
  errors: string[];
}

/** The parts of a botocore `service-2.json` the emulator and its contract test use. */
export interface ServiceModel {
  targetPrefix: string;
  signingName: string;
  operations: Record<string, OperationModel>;
  shapes: Record<string, Shape>;
}

/** One constraint violation, with a Coral-style path (`usageRecords.1.member.dimension`). */
export interface Violation {
  path: string;
  message: string;
}

const patternCache = new Map<string, RegExp>();
function regex(pattern: string): RegExp {
  let re = patternCache.get(pattern);
  if (!re) {
    // botocore patterns are Java/Python regexes; those in these models are also valid in JS (u flag
    // would reject `\/` escapes, so it is not used). Unanchored patterns match anywhere, as in Java find().
    re = new RegExp(pattern);
    patternCache.set(pattern, re);
  }
  return re;
}

function lower(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** The options and path a value is validated under. */
interface At {
  shapes: Record<string, Shape>;
  options: { strictMembers?: boolean };
  path: string;
}

/** `min`/`max` of a length or a value, in AWS's words. */
function bounds(shape: Shape, n: number, what: 'length' | 'value', at: string): Violation[] {
  const out: Violation[] = [];
  if (shape.min !== undefined && n < shape.min) {
    out.push({
      path: at,
      message: `Member must have ${what} greater than or equal to ${shape.min}`,
    });
  }
  if (shape.max !== undefined && n > shape.max) {
    out.push({ path: at, message: `Member must have ${what} less than or equal to ${shape.max}` });
  }
  return out;
}

function structure(shape: Shape, obj: Record<string, unknown>, a: At): Violation[] {
  const out: Violation[] = [];
  if (shape.union === true) {
    const set = Object.values(obj).filter((v) => v !== undefined && v !== null).length;
    if (set !== 1) {
      out.push({ path: a.path || '(root)', message: 'Member must have exactly one member set' });
    }
  }
  for (const req of shape.required ?? []) {
    if (obj[req] === undefined || obj[req] === null) {
      out.push({ path: join(a.path, lower(req)), message: 'Member must not be null' });
    }
  }
  for (const [k, v] of Object.entries(obj)) {
    const m = shape.members?.[k];
    if (!m) {
      if (a.options.strictMembers) out.push({ path: join(a.path, k), message: 'unknown member' });
      continue;
    }
    out.push(...validateShape(a.shapes, m.shape, v, a.options, join(a.path, lower(k))));
  }
  return out;
}

function list(shape: Shape, items: unknown[], a: At, at: string): Violation[] {
  const out = bounds(shape, items.length, 'length', at);
  items.forEach((item, i) => {
    const path = `${a.path}.${i + 1}.member`;
    out.push(...validateShape(a.shapes, shape.member?.shape ?? '', item, a.options, path));
  });
  return out;
}

function map(shape: Shape, obj: Record<string, unknown>, a: At): Violation[] {
  const out: Violation[] = [];
  for (const [k, v] of Object.entries(obj)) {
    const { shapes, options, path } = a;
    out.push(...validateShape(shapes, shape.key?.shape ?? '', k, options, `${path}.${k}.key`));
    out.push(...validateShape(shapes, shape.value?.shape ?? '', v, options, `${path}.${k}.value`));
  }
  return out;
}

function string(shape: Shape, value: string, at: string): Violation[] {
  const out = bounds(shape, [...value].length, 'length', at);
  if (shape.enum && !shape.enum.includes(value)) {
    out.push({
      path: at,
      message: `Member must satisfy enum value set: [${shape.enum.join(', ')}]`,
    });
  }
  if (shape.pattern && !regex(shape.pattern).test(value)) {
    out.push({
      path: at,
      message: `Member must satisfy regular expression pattern: ${shape.pattern}`,
    });
  }
  return out;
}

/** Whether `value` is a non-null object that is not an array. */
function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The violations of a present value of a shape, or the one message for a value of a wrong type. */
function check(shape: Shape, value: unknown, a: At, at: string): Violation[] | string {
  switch (shape.type) {
    case 'structure':
      return isObject(value) ? structure(shape, value, a) : 'must be an object';
    case 'list':
      return Array.isArray(value) ? list(shape, value, a, at) : 'must be a list';
    case 'map':
      return isObject(value) ? map(shape, value, a) : 'must be a map';
    case 'string':
      return typeof value === 'string' ? string(shape, value, at) : 'must be a string';
    case 'integer':
    case 'long':
      return typeof value === 'number' && Number.isInteger(value)
        ? bounds(shape, value, 'value', at)
        : 'must be an integer';
    case 'double':
    case 'float':
      return typeof value === 'number' && Number.isFinite(value) ? [] : 'must be a number';
    case 'boolean':
      return typeof value === 'boolean' ? [] : 'must be a boolean';
    case 'timestamp':
      // JSON 1.1 sends epoch seconds; the SDKs also accept ISO-8601 strings in responses.
      if (typeof value === 'number' && Number.isFinite(value)) return [];
      if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return [];
      return 'must be a timestamp (epoch seconds)';
    case 'blob':
      return typeof value === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(value)
        ? []
        : 'must be base64';
    default:
      return `unsupported shape type ${shape.type}`;
  }
}

/**
 * Validates a JSON wire value (AWS JSON 1.1: timestamps as epoch seconds, blobs as base64) against
 * a botocore shape: members, required, types, enums, lengths, ranges and patterns. Unknown members
 * are violations when `strictMembers` is set (used for what the emulator emits).
 */
export function validateShape(
  shapes: Record<string, Shape>,
  shapeName: string,
  value: unknown,
  options: { strictMembers?: boolean } = {},
  path = '',
): Violation[] {
  const shape = shapes[shapeName];
  const at = path || '(root)';
  if (!shape) return [{ path: at, message: `unknown shape ${shapeName}` }];
  if (value === null || value === undefined) return [];
  const r = check(shape, value, { shapes, options, path }, at);
  return typeof r === 'string' ? [{ path: at, message: r }] : r;
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** AWS's ValidationException message for a list of violations. */
export function validationMessage(violations: Violation[]): string {
  const n = violations.length;
  const parts = violations.map(
    (v) => `Value at '${v.path}' failed to satisfy constraint: ${v.message}`,
  );
  return `${n} validation error${n === 1 ? '' : 's'} detected: ${parts.join('; ')}`;
}
