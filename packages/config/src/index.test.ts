import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isMeterstreamError } from '@meterstream/errors';
import {
  smtpFromEnv,
  bool,
  clickhouseEnv,
  clickhouseFromEnv,
  csv,
  DEFAULT_KAFKA_CLIENT,
  describeEnv,
  envReader,
  kafkaClientEnv,
  kafkaEnv,
  kafkaFromEnv,
  parseEnv,
  port,
} from './index.js';

const schema = z.object({
  ...kafkaEnv,
  ...clickhouseEnv,
  PORT: port(8080),
  DEBUG: bool(false),
  LIST: csv('a'),
});

describe('parseEnv', () => {
  it('applies defaults', () => {
    const cfg = parseEnv(schema, {});
    expect(cfg.MS_KAFKA_BROKERS).toEqual(['127.0.0.1:9092']);
    expect(cfg.PORT).toBe(8080);
    expect(cfg.DEBUG).toBe(false);
    expect(cfg.MS_CLICKHOUSE_TOPOLOGY).toBe('single');
  });

  it('coerces strings', () => {
    const cfg = parseEnv(schema, { PORT: '9', DEBUG: 'yes', LIST: ' x, y ,,z ' });
    expect(cfg.PORT).toBe(9);
    expect(cfg.DEBUG).toBe(true);
    expect(cfg.LIST).toEqual(['x', 'y', 'z']);
  });

  it('names every broken key at once and never echoes values', () => {
    try {
      parseEnv(schema, {
        PORT: '70000',
        DEBUG: 'maybe',
        MS_CLICKHOUSE_DATABASE: 'x; DROP',
        MS_USAGE_TOPIC: 'bad topic!',
      });
      expect.unreachable();
    } catch (err) {
      expect(isMeterstreamError(err, 'CONFIG_INVALID')).toBe(true);
      const msg = (err as Error).message;
      for (const key of ['PORT', 'DEBUG', 'MS_CLICKHOUSE_DATABASE', 'MS_USAGE_TOPIC'])
        expect(msg).toContain(key);
      expect(msg).not.toContain('DROP');
    }
  });

  it('describes keys for the configuration reference', () => {
    const docs = describeEnv(schema);
    const brokers = docs.find((d) => d.key === 'MS_KAFKA_BROKERS');
    expect(brokers?.default).toBe('127.0.0.1:9092');
    expect(brokers?.description).toMatch(/bootstrap/);
  });
});

describe('isEntryPoint', () => {
  it('is true only for the script node was started with, through symlinks', async () => {
    const { mkdtemp, symlink, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { pathToFileURL } = await import('node:url');
    const { isEntryPoint } = await import('./index.js');
    const dir = await mkdtemp(join(tmpdir(), 'entry-'));
    const script = join(dir, 'cli.js');
    await writeFile(script, '');
    await symlink(script, join(dir, 'bin'));
    const url = pathToFileURL(script).href;
    expect(isEntryPoint(url, script)).toBe(true);
    expect(isEntryPoint(url, join(dir, 'bin'))).toBe(true);
    expect(isEntryPoint(url, join(dir, 'other.js'))).toBe(false);
    expect(isEntryPoint(url, undefined)).toBe(false);
  });
});

describe('clickhouseFromEnv', () => {
  const schema = z.object(clickhouseEnv);
  it('maps the shared ClickHouse keys, single server by default', () => {
    expect(clickhouseFromEnv(parseEnv(schema, { MS_CLICKHOUSE_DATABASE: 'db1' }))).toEqual({
      url: 'http://127.0.0.1:8123',
      user: 'default',
      password: '',
      database: 'db1',
      topology: { kind: 'single' },
    });
  });
  it('names the cluster when the topology is a cluster', () => {
    const env = parseEnv(schema, {
      MS_CLICKHOUSE_TOPOLOGY: 'cluster',
      MS_CLICKHOUSE_CLUSTER: 'c1',
    });
    expect(clickhouseFromEnv(env).topology).toEqual({ kind: 'cluster', cluster: 'c1' });
  });
});

describe('kafkaFromEnv', () => {
  const schema = z.object(kafkaClientEnv);
  it('uses the default client and names the service in the client id', () => {
    expect(kafkaFromEnv(parseEnv(schema, {}), 'ingest')).toEqual({
      client: DEFAULT_KAFKA_CLIENT,
      brokers: ['127.0.0.1:9092'],
      clientId: 'meterstream-ingest',
    });
  });
  it('takes MS_KAFKA_CLIENT and refuses an unknown client', () => {
    const env = parseEnv(schema, { MS_KAFKA_CLIENT: 'platformatic', MS_KAFKA_CLIENT_ID: 'x' });
    expect(kafkaFromEnv(env, 'console')).toMatchObject({
      client: 'platformatic',
      clientId: 'x-console',
    });
    expect(() => parseEnv(schema, { MS_KAFKA_CLIENT: 'rdkafka' })).toThrow(/MS_KAFKA_CLIENT/);
  });
});

describe('smtpFromEnv', () => {
  const env = {
    MS_SMTP_HOST: 'mail.example',
    MS_SMTP_PORT: 2525,
    MS_SMTP_SECURE: true,
    MS_SMTP_USER: 'u',
    MS_SMTP_PASSWORD: 'p',
    MS_SMTP_FROM: 'meter@example',
  };
  it('is the server of the MS_SMTP_* keys, and none without a host', () => {
    expect(smtpFromEnv(env)).toEqual({
      host: 'mail.example',
      port: 2525,
      secure: true,
      user: 'u',
      password: 'p',
      from: 'meter@example',
    });
    expect(smtpFromEnv({ ...env, MS_SMTP_HOST: '' })).toBeUndefined();
  });
});

describe('envReader', () => {
  it('parses with the schema and throws CONFIG_INVALID naming the key', () => {
    const reader = envReader('svc', z.object({ MS_PORT: port(80) }));
    expect(reader.parse({}).MS_PORT).toBe(80);
    expect(() => reader.parse({ MS_PORT: 'x' })).toThrow(/MS_PORT/);
    expect(reader.load({ MS_PORT: '81' }).MS_PORT).toBe(81);
  });
});
