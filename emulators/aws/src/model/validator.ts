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
  const out: Violation[] = [];
  const at = path || '(root)';
  const bad = (message: string): Violation[] => [{ path: at, message }];
  if (!shape) return bad(`unknown shape ${shapeName}`);
  if (value === null || value === undefined) return out;
  switch (shape.type) {
    case 'structure': {
      if (typeof value !== 'object' || Array.isArray(value)) return bad('must be an object');
      const obj = value as Record<string, unknown>;
      for (const req of shape.required ?? []) {
        if (obj[req] === undefined || obj[req] === null) {
          out.push({ path: join(path, lower(req)), message: 'Member must not be null' });
        }
      }
      for (const [k, v] of Object.entries(obj)) {
        const m = shape.members?.[k];
        if (!m) {
          if (options.strictMembers) out.push({ path: join(path, k), message: 'unknown member' });
          continue;
        }
        out.push(...validateShape(shapes, m.shape, v, options, join(path, lower(k))));
      }
      return out;
    }
    case 'list': {
      if (!Array.isArray(value)) return bad('must be a list');
      if (shape.min !== undefined && value.length < shape.min) {
        out.push({
          path: at,
          message: `Member must have length greater than or equal to ${shape.min}`,
        });
      }
      if (shape.max !== undefined && value.length > shape.max) {
        out.push({
          path: at,
          message: `Member must have length less than or equal to ${shape.max}`,
        });
      }
      value.forEach((item, i) => {
        out.push(
          ...validateShape(
            shapes,
            shape.member?.shape ?? '',
            item,
            options,
            `${path}.${i + 1}.member`,
          ),
        );
      });
      return out;
    }
    case 'map': {
      if (typeof value !== 'object' || Array.isArray(value)) return bad('must be a map');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        out.push(...validateShape(shapes, shape.key?.shape ?? '', k, options, `${path}.${k}.key`));
        out.push(
          ...validateShape(shapes, shape.value?.shape ?? '', v, options, `${path}.${k}.value`),
        );
      }
      return out;
    }
    case 'string': {
      if (typeof value !== 'string') return bad('must be a string');
      const len = [...value].length;
      if (shape.min !== undefined && len < shape.min) {
        out.push({
          path: at,
          message: `Member must have length greater than or equal to ${shape.min}`,
        });
      }
      if (shape.max !== undefined && len > shape.max) {
        out.push({
          path: at,
          message: `Member must have length less than or equal to ${shape.max}`,
        });
      }
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
    case 'integer':
    case 'long': {
      if (typeof value !== 'number' || !Number.isInteger(value)) return bad('must be an integer');
      if (shape.min !== undefined && value < shape.min) {
        out.push({
          path: at,
          message: `Member must have value greater than or equal to ${shape.min}`,
        });
      }
      if (shape.max !== undefined && value > shape.max) {
        out.push({
          path: at,
          message: `Member must have value less than or equal to ${shape.max}`,
        });
      }
      return out;
    }
    case 'double':
    case 'float':
      return typeof value === 'number' && Number.isFinite(value) ? out : bad('must be a number');
    case 'boolean':
      return typeof value === 'boolean' ? out : bad('must be a boolean');
    case 'timestamp':
      // JSON 1.1 sends epoch seconds; the SDKs also accept ISO-8601 strings in responses.
      if (typeof value === 'number' && Number.isFinite(value)) return out;
      if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return out;
      return bad('must be a timestamp (epoch seconds)');
    case 'blob':
      return typeof value === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(value)
        ? out
        : bad('must be base64');
    default:
      return bad(`unsupported shape type ${shape.type}`);
  }
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
