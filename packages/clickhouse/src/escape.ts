import { MeterstreamError } from '@meterstream/errors';

/**
 * Literal escaping for ClickHouse SQL. ClickHouse 18.16 has no server-side query parameters, so
 * every value that reaches SQL goes through this one module; identifiers never do (see
 * {@link ident}), they come from an allow-list.
 */

const ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\0': '\\0',
  '\b': '\\b',
  '\f': '\\f',
  '\v': '\\v',
  '\x07': '\\a',
};

/** Escapes a string into a single-quoted ClickHouse literal, e.g. `it's` → `'it\'s'`. */
export function quoteString(value: string): string {
  // Other control characters are sent as \xHH so that logs and the wire stay printable.
  // eslint-disable-next-line no-control-regex -- matching control characters is the point here
  const body = value.replace(/[\\'\n\r\t\0\b\f\v\x07]|[\x01-\x1f\x7f]/g, (ch) => {
    const known = ESCAPES[ch];
    if (known !== undefined) return known;
    return `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
  return `'${body}'`;
}

/** A value that may be rendered as a ClickHouse literal. */
export type SqlValue =
  string | number | bigint | boolean | null | Date | SqlFragment | readonly SqlValue[];

/** Already-rendered SQL (from {@link sql}, {@link ident} or {@link raw}); inserted verbatim. */
export class SqlFragment {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Formats a Date as a ClickHouse DateTime literal in UTC (second precision). */
export function dateTimeLiteral(d: Date): string {
  if (Number.isNaN(d.getTime()))
    throw new MeterstreamError('BAD_REQUEST', 'invalid date in SQL value');
  return `toDateTime('${d.toISOString().slice(0, 19).replace('T', ' ')}', 'UTC')`;
}

/** Renders one value as a literal. Throws on NaN/Infinity and on values it cannot represent. */
export function literal(value: SqlValue): string {
  if (value === null) return 'NULL';
  if (value instanceof SqlFragment) return value.text;
  if (value instanceof Date) return dateTimeLiteral(value);
  if (Array.isArray(value)) return `[${value.map((v: SqlValue) => literal(v)).join(', ')}]`;
  switch (typeof value) {
    case 'string':
      return quoteString(value);
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? '1' : '0';
    case 'number':
      if (!Number.isFinite(value))
        throw new MeterstreamError('BAD_REQUEST', 'non-finite number in SQL value');
      return String(value);
    default:
      throw new MeterstreamError('BAD_REQUEST', `cannot render ${typeof value} as SQL`);
  }
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const allowed = new Set<string>();

/**
 * Registers identifiers (database, table, column and view names) that SQL may use. Names come
 * from our code and config, never from requests; registering them is how the allow-list grows.
 */
export function allowIdentifiers(...names: string[]): void {
  for (const n of names) {
    if (!IDENT.test(n))
      throw new MeterstreamError('CONFIG_INVALID', `illegal SQL identifier: ${JSON.stringify(n)}`);
    allowed.add(n);
  }
}

/** A (possibly dotted, e.g. `db.table`) identifier from the allow-list, backquoted. */
export function ident(name: string): SqlFragment {
  const parts = name.split('.');
  for (const p of parts) {
    if (!IDENT.test(p) || !allowed.has(p)) {
      throw new MeterstreamError('BAD_REQUEST', `identifier not allowed: ${JSON.stringify(name)}`);
    }
  }
  return new SqlFragment(parts.map((p) => `\`${p}\``).join('.'));
}

/** Trusted SQL text (constants in our code). Never pass request data. */
export function raw(text: string): SqlFragment {
  return new SqlFragment(text);
}

/**
 * Tagged template that renders interpolated values as literals:
 * `sql\`SELECT * FROM ${ident('db.t')} WHERE id = ${id}\``.
 */
export function sql(strings: TemplateStringsArray, ...values: SqlValue[]): SqlFragment {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += literal(v) + (strings[i + 1] ?? '');
  });
  return new SqlFragment(out);
}

/** Joins fragments with a separator (e.g. `, ` or ` AND `). */
export function joinSql(parts: readonly SqlFragment[], separator = ', '): SqlFragment {
  return new SqlFragment(parts.map((p) => p.text).join(separator));
}
