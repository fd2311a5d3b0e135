import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// Docker cannot run on the CI machines, so the compose file is checked statically: it must parse,
// pin every image, and publish the same host ports as the native stack (deploy/local).

interface ComposeService {
  image?: string;
  build?: unknown;
  ports?: string[];
  command?: string[];
}

const root = new URL('../', import.meta.url);
const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8')) as {
  services: Record<string, ComposeService>;
};
const version = (
  JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version: string }
).version;

async function nativePorts(component: string): Promise<Record<string, number>> {
  const href = pathToFileURL(
    fileURLToPath(new URL(`deploy/local/components/${component}.mjs`, root)),
  ).href;
  type Component = { ports: (env: object) => Record<string, number> };
  const mod = (await import(href)) as Component & { default?: Component };
  return (mod.default ?? mod).ports({});
}

const hostPorts = (s: ComposeService | undefined): number[] =>
  (s?.ports ?? []).map((p) => Number(String(p).split(':')[0]));

describe('docker-compose.yml', () => {
  it('pins every image to an exact version', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      expect(s.image, name).toBeDefined();
      const tag = s.image!.split(':')[1];
      expect(tag, `${name} image ${s.image}`).toMatch(/^v?\d+(\.\d+)+/);
      expect(s.image, name).not.toMatch(/:latest$/);
    }
  });

  it('builds our own image at the version of package.json', () => {
    expect(compose.services.aws?.image).toBe(`meterstream:${version}`);
    for (const svc of ['ingest', 'aggregator', 'submitter', 'auditor', 'console']) {
      const s = compose.services[svc];
      expect(s?.image, svc).toBe(`meterstream:${version}`);
      expect(s?.command?.join(' '), svc).toBe(`node services/${svc}/dist/main.js`);
    }
  });

  it('publishes the native stack ports', async () => {
    expect(hostPorts(compose.services.kafka)).toContain((await nativePorts('kafka')).broker);
    expect(hostPorts(compose.services.registry)).toContain((await nativePorts('registry')).http);
    expect(hostPorts(compose.services.clickhouse)).toContain(
      (await nativePorts('clickhouse')).http,
    );
    expect(hostPorts(compose.services.clickhouse)).toContain((await nativePorts('clickhouse')).tcp);
    expect(hostPorts(compose.services.aws)).toContain((await nativePorts('aws')).http);
    expect(hostPorts(compose.services.smtp)).toContain((await nativePorts('smtp')).smtp);
    expect(hostPorts(compose.services.smtp)).toContain((await nativePorts('smtp')).web);
  });

  it('uses a Kafka 4.x image in KRaft mode', () => {
    expect(compose.services.kafka?.image).toMatch(/^apache\/kafka:4\./);
  });
});
