import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { MeterstreamError } from '@meterstream/errors';
import type { SqlFragment } from './escape.js';

/** Connection settings for {@link ClickHouse}. */
export interface ClickHouseConfig {
  url: string;
  user?: string;
  password?: string;
  /** Default database for unqualified names; must exist unless `undefined`. */
  database?: string;
  /** Request timeout in milliseconds. */
  requestTimeoutMs?: number;
  /** Name sent as the HTTP user agent / client name, for `system.query_log`. */
  application?: string;
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
]);

/** True when the error means "ClickHouse is not reachable right now" rather than "bad query". */
function isUnavailable(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
    const msg = (e as { message?: unknown }).message;
    if (
      typeof msg === 'string' &&
      /socket hang up|Timeout error|ECONNREFUSED|ECONNRESET|other side closed/i.test(msg)
    )
      return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Converts a client or server error into ours, without the SQL text (it may carry customer data). */
export function toClickHouseError(err: unknown, op: string): MeterstreamError {
  if (err instanceof MeterstreamError) return err;
  if (isUnavailable(err)) {
    return new MeterstreamError('CLICKHOUSE_UNAVAILABLE', `ClickHouse unavailable during ${op}`, {
      cause: err,
    });
  }
  const serverCode = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message.split('\n')[0]?.slice(0, 300) : String(err);
  return new MeterstreamError('CLICKHOUSE_QUERY_FAILED', `ClickHouse ${op} failed: ${message}`, {
    cause: err,
    details: serverCode === undefined ? {} : { serverCode },
  });
}

/**
 * A thin wrapper over `@clickhouse/client` that speaks rendered SQL fragments (see `sql`), maps
 * errors to ours and stays within what ClickHouse 18.16 understands (no query parameters, no
 * settings it does not know).
 */
export class ClickHouse {
  readonly client: ClickHouseClient;
  private closed: Promise<void> | undefined;

  constructor(readonly config: ClickHouseConfig) {
    this.client = createClient({
      url: config.url,
      username: config.user ?? 'default',
      password: config.password ?? '',
      ...(config.database ? { database: config.database } : {}),
      request_timeout: config.requestTimeoutMs ?? 60_000,
      application: config.application ?? 'meterstream',
      compression: { request: false, response: false },
      // Errors reach callers as ours (and are logged there); the client's own console logging is noise.
      log: { level: ClickHouseLogLevel.OFF },
    });
  }

  /** Runs a statement that returns no rows (DDL, INSERT … SELECT). */
  async command(statement: SqlFragment | string): Promise<void> {
    try {
      await this.client.command({
        query: typeof statement === 'string' ? statement : statement.text,
      });
    } catch (err) {
      throw toClickHouseError(err, 'command');
    }
  }

  /** Runs a SELECT and returns its rows as objects (JSONEachRow; 64-bit integers arrive as strings). */
  async query<T = Record<string, unknown>>(statement: SqlFragment | string): Promise<T[]> {
    try {
      const rs = await this.client.query({
        query: typeof statement === 'string' ? statement : statement.text,
        format: 'JSONEachRow',
      });
      return await rs.json<T>();
    } catch (err) {
      throw toClickHouseError(err, 'query');
    }
  }

  /** Inserts rows (objects keyed by column) into a table in one request, i.e. one insert block. */
  async insert(table: SqlFragment, rows: readonly Record<string, unknown>[]): Promise<void> {
    if (rows.length === 0) return;
    try {
      await this.client.insert({
        table: table.text,
        values: rows as Record<string, unknown>[],
        format: 'JSONEachRow',
      });
    } catch (err) {
      throw toClickHouseError(err, 'insert');
    }
  }

  /** True when the server answers `/ping`. */
  async ping(): Promise<boolean> {
    try {
      const r = await this.client.ping();
      return r.success;
    } catch {
      return false;
    }
  }

  /** Closes the connection pool; idempotent. */
  close(): Promise<void> {
    this.closed ??= this.client.close();
    return this.closed;
  }
}
