import { createHash } from 'node:crypto';
import { AwsError } from './aws-error.js';
import { MODELS } from './model/shapes.js';
import { validateShape, validationMessage } from './model/validator.js';

/** A JSON object as it arrives on (or leaves by) the AWS JSON 1.1 wire. */
export type Json = Record<string, unknown>;

/** Who called and from where (from the request's headers and SigV4 credential scope). */
export interface CallContext {
  accessKeyId: string;
  region: string;
  sourceIp: string;
  userAgent: string;
  requestId: string;
}

/** A wire value when it is a string. */
export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** AWS JSON 1.1 timestamps are epoch seconds (number); boto3 may also send ISO strings. */
export function parseTimestamp(v: unknown): number {
  if (typeof v === 'number') return Math.round(v * 1000);
  if (typeof v === 'string') {
    const ms = Date.parse(v);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new AwsError('SerializationException', 'Timestamp must be epoch seconds');
}

/** Validates a request against the AWS model; throws the error AWS answers for the violations. */
export function validate(service: keyof typeof MODELS, shape: string, input: unknown): void {
  const v = validateShape(MODELS[service].shapes, shape, input);
  if (v.length === 0) return;
  // AWS answers its modeled InvalidTag / InvalidUsageAllocations errors for bad tags and
  // allocations ("the tag is invalid, or the number of tags is greater than 5"), and the generic
  // ValidationException for every other constraint of the model.
  const type = v.some((x) => x.path.includes('.tags'))
    ? 'InvalidTagException'
    : v.some((x) => x.path.includes('usageAllocations'))
      ? 'InvalidUsageAllocationsException'
      : 'ValidationException';
  throw new AwsError(type, validationMessage(v));
}

/** A short fingerprint of a query, so a NextToken cannot be replayed against another query. */
export function queryHash(parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
}

/** An opaque pagination token: a position (`t`, `id`) inside the query it belongs to. */
export function encodeToken(t: number, id: string, query: string): string {
  return Buffer.from(JSON.stringify({ t, id, q: query })).toString('base64url');
}

/** The position inside `query` a token names; throws `errorType` for any other token. */
export function decodeToken(
  token: string,
  query: string,
  errorType = 'InvalidNextTokenException',
): { t: number; id: string } {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      t: unknown;
      id: unknown;
      q: unknown;
    };
    if (typeof v.t === 'number' && typeof v.id === 'string' && v.q === query)
      return { t: v.t, id: v.id };
  } catch {
    // fall through
  }
  throw new AwsError(errorType, 'The NextToken is invalid or belongs to a different query');
}

/** What {@link offsetPage} pages by. */
export interface PageRequest {
  /** Items per page. */
  maxResults: number;
  /** The request's NextToken (undefined on the first page). */
  token: unknown;
  /** The fingerprint of the query ({@link queryHash}) the token must belong to. */
  query: string;
  /** The error a token of another query answers. */
  errorType: string;
}

/** One page of `items` from the offset `token` names, and the token of the next page if any. */
export function offsetPage<T>(items: T[], p: PageRequest): { page: T[]; next?: string } {
  const offset =
    p.token !== undefined ? decodeToken(str(p.token) ?? '', p.query, p.errorType).t : 0;
  const end = offset + p.maxResults;
  return {
    page: items.slice(offset, end),
    ...(end < items.length ? { next: encodeToken(end, '', p.query) } : {}),
  };
}
