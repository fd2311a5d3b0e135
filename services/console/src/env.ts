import { z } from 'zod';
import {
  bool,
  clickhouseEnv,
  kafkaEnv,
  loadEnvOrExit,
  observabilityEnv,
  parseEnv,
  port,
  posInt,
  url,
  type Env,
} from '@meterstream/config';

/** A session secret only for local development (MS_CONSOLE_DEV=true); never in production. */
export const DEV_SESSION_SECRET = 'meterstream-console-dev-secret-do-not-use-in-production';

/** The console's configuration (the only place it reads its environment). */
export const consoleEnvSchema = z
  .object({
    ...kafkaEnv,
    ...clickhouseEnv,
    ...observabilityEnv,
    MS_CONSOLE_PORT: port(8090).describe('HTTP port of the console'),
    MS_CONSOLE_HOST: z
      .string()
      .min(1)
      .default('127.0.0.1')
      .describe('Address the console listens on'),
    MS_CONSOLE_DEV: bool(false).describe(
      'Development mode: allows the built-in session secret and plain-HTTP cookies',
    ),
    MS_CONSOLE_USERS_FILE: z
      .string()
      .min(1)
      .default('console-users.json')
      .describe(
        'JSON file of users: {"users":[{"username","role":"viewer|operator|admin","passwordHash"}]}',
      ),
    MS_CONSOLE_SESSION_SECRET: z
      .string()
      .optional()
      .describe(
        'Secret (≥ 32 characters) that signs session cookies and CSRF tokens; required unless MS_CONSOLE_DEV=true',
      ),
    MS_CONSOLE_SESSION_TTL_MINUTES: posInt(480).describe('How long a sign-in lasts'),
    MS_CONSOLE_SECURE_COOKIES: bool(true).describe(
      'Mark cookies Secure (HTTPS only); off only behind plain-HTTP dev setups',
    ),
    MS_CONSOLE_PLANS_DIR: z
      .string()
      .min(1)
      .default('plans')
      .describe('Directory of metering plan YAML files'),
    MS_SUBMITTER_URL: url('http://127.0.0.1:9102').describe('Submitter control API (POST /v1/run)'),
    MS_CONSOLE_AUDIT_TABLE: z
      .string()
      .default('audit_findings')
      .describe('Auditor findings table shown on the Audit page'),
  })
  .superRefine((env, ctx) => {
    const secret = env.MS_CONSOLE_SESSION_SECRET;
    if (secret === undefined || secret === '') {
      if (!env.MS_CONSOLE_DEV) {
        ctx.addIssue({
          code: 'custom',
          path: ['MS_CONSOLE_SESSION_SECRET'],
          message: 'required (at least 32 characters) unless MS_CONSOLE_DEV=true',
        });
      }
    } else if (secret.length < 32) {
      ctx.addIssue({
        code: 'custom',
        path: ['MS_CONSOLE_SESSION_SECRET'],
        message: 'must be at least 32 characters',
      });
    }
  })
  .transform((env) => ({
    ...env,
    sessionSecret: env.MS_CONSOLE_SESSION_SECRET || DEV_SESSION_SECRET,
    secureCookies: env.MS_CONSOLE_DEV ? false : env.MS_CONSOLE_SECURE_COOKIES,
  }));

/** Parsed console configuration. */
export type ConsoleEnv = z.infer<typeof consoleEnvSchema>;

/** Parses an environment (tests pass their own). */
export function parseConsoleEnv(env: Env): ConsoleEnv {
  return parseEnv(consoleEnvSchema as unknown as z.ZodObject<z.ZodRawShape>, env) as ConsoleEnv;
}

/** The process environment, or exit 78 naming every broken key. */
export function loadConsoleEnv(): ConsoleEnv {
  return loadEnvOrExit(
    'console',
    consoleEnvSchema as unknown as z.ZodObject<z.ZodRawShape>,
    process.env,
  ) as ConsoleEnv;
}
