import { parseEnv } from '@meterstream/config';
import { describe, expect, it } from 'vitest';
import { auditorEnvSchema } from './env.js';
import { auditorConfigFromEnv, awsOptionsFromEnv } from './env.js';

describe('auditor env', () => {
  it('has working defaults (port 9103, 2 lookups a second, 15 min grace)', () => {
    const env = parseEnv(auditorEnvSchema, {});
    expect(env.MS_AUDITOR_PORT).toBe(9103);
    const config = auditorConfigFromEnv(env);
    expect(config).toMatchObject({
      lookupRatePerSecond: 2,
      pageSize: 50,
      deliveryGraceMs: 900_000,
      lookupBy: 'EventSource',
      topology: { kind: 'single' },
    });
    expect(awsOptionsFromEnv(env)).toEqual({ region: 'us-east-1' });
    expect(env.MS_AUDITOR_ALERT_EMAILS).toEqual([]);
  });

  it('names every broken key at once', () => {
    let message = '';
    try {
      parseEnv(auditorEnvSchema, {
        MS_AUDITOR_PAGE_SIZE: '51',
        MS_AWS_ENDPOINT: 'ftp://x',
        MS_AUDITOR_LOOKUP_BY: 'Username',
        MS_AUDITOR_PORT: 'x',
      });
    } catch (err) {
      message = (err as Error).message;
    }
    for (const key of [
      'MS_AUDITOR_PAGE_SIZE',
      'MS_AWS_ENDPOINT',
      'MS_AUDITOR_LOOKUP_BY',
      'MS_AUDITOR_PORT',
    ]) {
      expect(message).toContain(key);
    }
  });

  it('builds static credentials and recipients for the emulator and SMTP', () => {
    const env = parseEnv(auditorEnvSchema, {
      MS_AWS_ENDPOINT: 'http://127.0.0.1:4566',
      MS_AWS_ACCESS_KEY_ID: 'AKID',
      MS_AWS_SECRET_ACCESS_KEY: 's',
      MS_AUDITOR_ALERT_EMAILS: 'a@x.example, b@x.example',
    });
    expect(awsOptionsFromEnv(env)).toEqual({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:4566',
      credentials: { accessKeyId: 'AKID', secretAccessKey: 's' },
    });
    expect(env.MS_AUDITOR_ALERT_EMAILS).toEqual(['a@x.example', 'b@x.example']);
  });
});
