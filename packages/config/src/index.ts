import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { MeterstreamError } from '@meterstream/errors';

/** An environment: names to string values, like `process.env`. */
export type Env = Record<string, string | undefined>;

/** A zod object schema describing a service's environment. */
export type EnvSchema = z.ZodObject<z.ZodRawShape>;

/** One broken configuration key and why. */
export interface ConfigIssue {
  key: string;
  message: string;
}

/**
 * Parses `env` with `schema`. On failure throws a CONFIG_INVALID error that names every broken key
 * (not just the first), so an operator fixes the deployment in one pass. Values are never echoed:
 * they may be secrets.
 */
export function parseEnv<S extends EnvSchema>(schema: S, env: Env): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const issues: ConfigIssue[] = result.error.issues.map((i) => ({
    key: i.path.map(String).join('.') || '(root)',
    message: i.message,
  }));
  const lines = issues.map((i) => `  ${i.key}: ${i.message}`).join('\n');
  throw new MeterstreamError('CONFIG_INVALID', `invalid configuration:\n${lines}`, {
    details: { issues },
  });
}

/**
 * Parses the environment at process start; on bad config prints every broken key to stderr and
 * exits with status 78 (EX_CONFIG) instead of starting half-configured.
 */
export function loadEnvOrExit<S extends EnvSchema>(
  service: string,
  schema: S,
  env: Env,
): z.infer<S> {
  try {
    return parseEnv(schema, env);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`${service}: ${message}\n`);
    process.exit(78);
  }
}

/** A TCP port number from a string. */
export const port = (def: number) => z.coerce.number().int().min(0).max(65535).default(def);

/** A positive integer from a string. */
export const posInt = (def: number) => z.coerce.number().int().positive().default(def);

/** A non-negative integer from a string. */
export const nonNegInt = (def: number) => z.coerce.number().int().nonnegative().default(def);

/** A boolean from "true"/"false"/"1"/"0"/"yes"/"no". */
export const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** A comma-separated list of non-empty strings. */
export const csv = (def: string) =>
  z
    .string()
    .default(def)
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    )
    .pipe(z.array(z.string()).min(1));

/** The two ways a service reads its environment: {@link parseEnv} and {@link loadEnvOrExit}. */
export interface EnvReader<S extends EnvSchema> {
  /** Parses `env`, throwing CONFIG_INVALID naming every broken key (tests, tools). */
  parse(env: Env): z.infer<S>;
  /** Parses `env` at process start; exits 78 naming every broken key. */
  load(env: Env): z.infer<S>;
}

/** The {@link EnvReader} of one service's schema (`service` names it in error output). */
export function envReader<S extends EnvSchema>(service: string, schema: S): EnvReader<S> {
  return {
    parse: (env) => parseEnv(schema, env),
    load: (env) => loadEnvOrExit(service, schema, env),
  };
}

/** An http(s) URL. */
export const url = (def: string) =>
  z
    .string()
    .default(def)
    .refine((v) => /^https?:\/\/[^\s]+$/.test(v), 'must be an http(s) URL');

/** pino log levels. */
export const logLevel = z
  .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  .default('info');

/** The Kafka client implementations of `@meterstream/kafka`, as `MS_KAFKA_CLIENT` names them. */
export const KAFKA_CLIENT_KINDS = ['kafkajs', 'platformatic'] as const;

/** One of {@link KAFKA_CLIENT_KINDS}. */
export type KafkaClientKind = (typeof KAFKA_CLIENT_KINDS)[number];

/**
 * The Kafka client of every process (services, tests, benchmarks) unless `MS_KAFKA_CLIENT` says
 * otherwise. Changing the default is this one line.
 */
export const DEFAULT_KAFKA_CLIENT: KafkaClientKind = 'kafkajs';

/** The Kafka connection settings every service that talks to Kafka has. */
export const kafkaClientEnv = {
  MS_KAFKA_BROKERS: csv('127.0.0.1:9092').describe(
    'Kafka bootstrap brokers, comma-separated host:port',
  ),
  MS_KAFKA_CLIENT_ID: z.string().min(1).default('meterstream').describe('Kafka client id prefix'),
  MS_KAFKA_CLIENT: z
    .enum(KAFKA_CLIENT_KINDS)
    .default(DEFAULT_KAFKA_CLIENT)
    .describe(
      'Kafka client library: kafkajs or platformatic (@platformatic/kafka); same behaviour, different speed',
    ),
};

/** What `createKafkaClient` (@meterstream/kafka) needs from the environment, besides a logger. */
export interface KafkaConnection {
  client: KafkaClientKind;
  brokers: string[];
  /** `<MS_KAFKA_CLIENT_ID>-<service>`. */
  clientId: string;
}

/** The Kafka connection of `service` from a parsed environment that spreads {@link kafkaClientEnv}. */
export function kafkaFromEnv(
  env: { MS_KAFKA_CLIENT: KafkaClientKind; MS_KAFKA_BROKERS: string[]; MS_KAFKA_CLIENT_ID: string },
  service: string,
): KafkaConnection {
  return {
    client: env.MS_KAFKA_CLIENT,
    brokers: env.MS_KAFKA_BROKERS,
    clientId: `${env.MS_KAFKA_CLIENT_ID}-${service}`,
  };
}

/** Kafka and schema registry settings shared by every service that touches Kafka. */
export const kafkaEnv = {
  ...kafkaClientEnv,
  MS_SCHEMA_REGISTRY_URL: url('http://127.0.0.1:8081/apis/ccompat/v7').describe(
    'Confluent-compatible schema registry base URL',
  ),
  MS_USAGE_TOPIC: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,249}$/, 'must be a legal Kafka topic name')
    .default('usage.events')
    .describe('Topic carrying usage events'),
  MS_USAGE_TOPIC_PARTITIONS: posInt(6).describe(
    'Partitions of the usage topic when Meterstream creates it; the aggregator and the submitter refuse to start when the topic has another count',
  ),
  MS_USAGE_TOPIC_REPLICATION: posInt(1).describe(
    'Replication factor of the usage topic when Meterstream creates it',
  ),
};

/** ClickHouse settings shared by every service that touches ClickHouse. */
export const clickhouseEnv = {
  MS_CLICKHOUSE_URL: url('http://127.0.0.1:8123').describe('ClickHouse HTTP endpoint'),
  MS_CLICKHOUSE_USER: z.string().default('default').describe('ClickHouse user'),
  MS_CLICKHOUSE_PASSWORD: z.string().default('').describe('ClickHouse password (secret)'),
  MS_CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'must be a plain identifier')
    .default('meterstream')
    .describe('ClickHouse database'),
  MS_CLICKHOUSE_TOPOLOGY: z
    .enum(['single', 'cluster'])
    .default('single')
    .describe('Render DDL for one server or a cluster'),
  MS_CLICKHOUSE_CLUSTER: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'must be a plain identifier')
    .default('meterstream')
    .describe('Cluster name used by ON CLUSTER when topology=cluster'),
};

/** Where a service's ClickHouse is and how its DDL is rendered, from {@link clickhouseEnv} keys. */
export interface ClickHouseConnection {
  url: string;
  user: string;
  password: string;
  database: string;
  topology: { kind: 'single' } | { kind: 'cluster'; cluster: string };
}

/** The ClickHouse connection of a parsed environment that spreads {@link clickhouseEnv}. */
export function clickhouseFromEnv(env: {
  MS_CLICKHOUSE_URL: string;
  MS_CLICKHOUSE_USER: string;
  MS_CLICKHOUSE_PASSWORD: string;
  MS_CLICKHOUSE_DATABASE: string;
  MS_CLICKHOUSE_TOPOLOGY: 'single' | 'cluster';
  MS_CLICKHOUSE_CLUSTER: string;
}): ClickHouseConnection {
  return {
    url: env.MS_CLICKHOUSE_URL,
    user: env.MS_CLICKHOUSE_USER,
    password: env.MS_CLICKHOUSE_PASSWORD,
    database: env.MS_CLICKHOUSE_DATABASE,
    topology:
      env.MS_CLICKHOUSE_TOPOLOGY === 'cluster'
        ? { kind: 'cluster', cluster: env.MS_CLICKHOUSE_CLUSTER }
        : { kind: 'single' },
  };
}

/** An SMTP server to send mail through (notices, finding digests). */
export interface SmtpConnection {
  host: string;
  port: number;
  secure: boolean;
  user: string;
  password: string;
  from: string;
}

/** The SMTP server of a parsed environment with the `MS_SMTP_*` keys; undefined without a host. */
export function smtpFromEnv(env: {
  MS_SMTP_HOST: string;
  MS_SMTP_PORT: number;
  MS_SMTP_SECURE: boolean;
  MS_SMTP_USER: string;
  MS_SMTP_PASSWORD: string;
  MS_SMTP_FROM: string;
}): SmtpConnection | undefined {
  if (!env.MS_SMTP_HOST) return undefined;
  return {
    host: env.MS_SMTP_HOST,
    port: env.MS_SMTP_PORT,
    secure: env.MS_SMTP_SECURE,
    user: env.MS_SMTP_USER,
    password: env.MS_SMTP_PASSWORD,
    from: env.MS_SMTP_FROM,
  };
}

/** Logging and metrics settings every service has. */
export const observabilityEnv = {
  MS_LOG_LEVEL: logLevel.describe('pino log level'),
};

/** One documented configuration key, for the generated configuration reference. */
export interface EnvDoc {
  key: string;
  description: string;
  default: string | undefined;
}

/** The object schema under refinements and transforms (a zod pipe keeps its input as `in`). */
export function envShape(schema: z.ZodType): z.ZodRawShape {
  let s: unknown = schema;
  for (let depth = 0; depth < 5 && s; depth++) {
    const shape = (s as { shape?: z.ZodRawShape }).shape;
    if (shape) return shape;
    s = (s as { in?: unknown }).in;
  }
  throw new Error('not an object schema');
}

/** Lists the keys of an env schema with their descriptions and defaults (for README generation). */
export function describeEnv(schema: z.ZodType): EnvDoc[] {
  return Object.entries(envShape(schema)).map(([key, field]) => {
    const f = field as z.ZodType;
    const parsed = f.safeParse(undefined);
    let def: string | undefined;
    if (parsed.success && parsed.data !== undefined) {
      def = Array.isArray(parsed.data) ? parsed.data.join(',') : String(parsed.data);
    }
    return { key, description: f.description ?? '', default: def };
  });
}

/**
 * Whether the module at `moduleUrl` (pass `import.meta.url`) is the script node was started
 * with, through symlinks (npm bins) too. Lets one file be both a library and an entry point.
 */
export function isEntryPoint(
  moduleUrl: string,
  argv1: string | undefined = process.argv[1],
): boolean {
  if (argv1 === undefined) return false;
  try {
    return realpathSync(argv1) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}
