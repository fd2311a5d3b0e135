import { existsSync } from 'node:fs';
import { connect } from 'node:net';

/** Where the real parts of the stack are for a test run. */
export interface StackEndpoints {
  kafkaBrokers: string[];
  schemaRegistryUrl: string;
  clickhouseUrl: string;
  awsEndpoint: string;
  smtpHost: string;
  smtpPort: number;
  /** maildev's REST API (list and delete received mail). */
  smtpWebUrl: string;
}

/** `native` (the local stack from deploy/local), `containers` (testcontainers) or `auto`. */
export type StackMode = 'native' | 'containers';

/**
 * The one switch between the native local stack and testcontainers: `MS_TEST_STACK=native|containers|auto`
 * (default `auto`: containers when a Docker engine socket is present, else native).
 */
export function stackMode(env: NodeJS.ProcessEnv = process.env): StackMode {
  const wanted = env.MS_TEST_STACK ?? 'auto';
  if (wanted === 'native' || wanted === 'containers') return wanted;
  if (wanted !== 'auto')
    throw new Error(`MS_TEST_STACK must be native, containers or auto, not ${wanted}`);
  const socket = (env.DOCKER_HOST ?? 'unix:///var/run/docker.sock').replace(/^unix:\/\//, '');
  return existsSync(socket) ? 'containers' : 'native';
}

/** Endpoints of the native local stack, honouring the same port variables as deploy/local. */
export function nativeEndpoints(env: NodeJS.ProcessEnv = process.env): StackEndpoints {
  const p = (name: string, def: number): number => Number(env[name] ?? def);
  return {
    kafkaBrokers: [`127.0.0.1:${p('MS_KAFKA_PORT', 9092)}`],
    schemaRegistryUrl: `http://127.0.0.1:${p('MS_REGISTRY_PORT', 8081)}/apis/ccompat/v7`,
    clickhouseUrl: `http://127.0.0.1:${p('MS_CLICKHOUSE_HTTP_PORT', 8123)}`,
    awsEndpoint: `http://127.0.0.1:${p('MS_AWS_PORT', 4566)}`,
    smtpHost: '127.0.0.1',
    smtpPort: p('MS_SMTP_PORT', 2525),
    smtpWebUrl: `http://127.0.0.1:${p('MS_SMTP_WEB_PORT', 1080)}`,
  };
}

/** True when something accepts TCP connections on host:port within `timeoutMs`. */
export function tcpReachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}
