// Apache Kafka broker, single-node KRaft (broker + controller in one JVM), jars resolved
// from Maven Central by deploy/local/kafka/pom.xml.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  HERE,
  aptGetInstall,
  envPorts,
  mkdirp,
  renderFile,
  runAsync,
  spawnDetached,
  which,
} from '../lib.mjs';

/** Newest Kafka that kafkajs 2.2.4 was verified against (see README). */
export const DEFAULT_VERSION = '4.4.0';
const KAFKA_DIR = path.join(HERE, 'kafka');

function version(env) {
  return env.MS_KAFKA_VERSION || DEFAULT_VERSION;
}

function libsDir(ctx) {
  return path.join(ctx.paths.cache, `kafka-${version(ctx.env)}`, 'libs');
}

function ensureApt(bin, pkg, ctx) {
  if (which(bin)) return;
  ctx.log(`${bin} not found: apt-get install ${pkg}`);
  aptGetInstall([pkg], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

export const name = 'kafka';
export const order = 10;
export const healthTimeoutMs = 90000;
export const stopTimeoutMs = 30000;

export const ports = envPorts({
  broker: ['MS_KAFKA_PORT', 9092],
  controller: ['MS_KAFKA_CONTROLLER_PORT', 9093],
});

export async function install(ctx) {
  ensureApt('java', 'openjdk-17-jre-headless', ctx);
  const libs = libsDir(ctx);
  // The marker holds a hash of the pom, so editing it (e.g. a log4j bump) re-resolves.
  const marker = path.join(libs, '.complete');
  const pomHash = crypto
    .createHash('sha256')
    .update(fs.readFileSync(path.join(KAFKA_DIR, 'pom.xml')))
    .digest('hex');
  let markerHash = null;
  try {
    markerHash = fs.readFileSync(marker, 'utf8').trim();
  } catch {
    /* not resolved yet */
  }
  if (markerHash !== pomHash) {
    ensureApt('mvn', 'maven', ctx);
    fs.rmSync(libs, { recursive: true, force: true });
    mkdirp(libs);
    await runAsync(
      'mvn',
      [
        '-q',
        '-B',
        '-f',
        path.join(KAFKA_DIR, 'pom.xml'),
        `-Dkafka.version=${version(ctx.env)}`,
        'dependency:copy-dependencies',
        '-DincludeScope=runtime',
        `-DoutputDirectory=${libs}`,
      ],
      { logFile: ctx.paths.log },
    );
    if (!fs.readdirSync(libs).some((f) => f.startsWith('kafka_2.13-'))) {
      throw new Error(`maven resolved no kafka_2.13 jar into ${libs}`);
    }
    fs.writeFileSync(marker, pomHash);
  }

  // Render config; format storage once. The controller endpoint is written into the
  // formatted voter set (--standalone), so a changed controller port means a re-format.
  const { broker, controller } = ctx.ports;
  const logDirs = path.join(ctx.paths.data, 'logs');
  const props = path.join(ctx.paths.data, 'server.properties');
  renderFile(path.join(KAFKA_DIR, 'server.properties.tmpl'), props, {
    PORT: broker,
    CONTROLLER_PORT: controller,
    LOG_DIRS: logDirs,
  });
  const stateFile = path.join(ctx.paths.data, 'formatted.json');
  let state = null;
  try {
    state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
  } catch {
    /* not formatted */
  }
  const formatted = state && fs.existsSync(path.join(logDirs, 'meta.properties'));
  if (formatted && state.controllerPort === controller && state.version === version(ctx.env))
    return;
  if (formatted) {
    ctx.log(
      `kafka data was formatted for ${JSON.stringify(state)}; wiping ${logDirs} and re-formatting`,
    );
  }
  fs.rmSync(logDirs, { recursive: true, force: true });
  mkdirp(logDirs);
  // Kafka cluster ids are 16 random bytes, base64url without padding.
  const clusterId = crypto.randomBytes(16).toString('base64url');
  await runAsync(
    'java',
    [
      '-cp',
      `${libs}/*`,
      `-Dlog4j2.configurationFile=${path.join(KAFKA_DIR, 'log4j2.yaml')}`,
      'kafka.tools.StorageTool',
      'format',
      '--standalone',
      '-t',
      clusterId,
      '-c',
      props,
    ],
    { logFile: ctx.paths.log },
  );
  fs.writeFileSync(
    stateFile,
    JSON.stringify({ clusterId, controllerPort: controller, version: version(ctx.env) }),
  );
}

export function start(ctx) {
  return spawnDetached({
    cmd: 'java',
    args: [
      '-Xms256m',
      '-Xmx1g',
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${path.join(KAFKA_DIR, 'log4j2.yaml')}`,
      '-cp',
      `${libsDir(ctx)}/*`,
      'kafka.Kafka',
      path.join(ctx.paths.data, 'server.properties'),
    ],
    logFile: ctx.paths.log,
    pidFile: ctx.paths.pid,
  });
}

/**
 * One Kafka request/response over a fresh TCP connection (no client library: this runs
 * before npm install). Resolves the response body after the correlation id.
 */
function kafkaRequest(port, apiKey, apiVersion, body, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const clientId = Buffer.from('ms-stack');
    const header = Buffer.alloc(10);
    header.writeInt16BE(apiKey, 0);
    header.writeInt16BE(apiVersion, 2);
    header.writeInt32BE(7, 4);
    header.writeInt16BE(clientId.length, 8);
    const payload = Buffer.concat([header, clientId, body]);
    const size = Buffer.alloc(4);
    size.writeInt32BE(payload.length, 0);
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    const fail = (e) => {
      sock.destroy();
      reject(e);
    };
    sock.setTimeout(timeoutMs, () => fail(new Error('timeout')));
    sock.once('error', fail);
    sock.once('connect', () => sock.write(Buffer.concat([size, payload])));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        sock.destroy();
        if (buf.readInt32BE(4) !== 7) return reject(new Error('bad correlation id'));
        resolve(buf.subarray(8, 4 + buf.readInt32BE(0)));
      }
    });
    sock.once('close', () => reject(new Error('closed')));
  });
}

/**
 * Healthy = the broker answers Metadata (v4) listing itself and a known active controller,
 * i.e. the broker finished startup and KRaft has a leader; a bare TCP accept is not enough.
 */
export async function health(ctx) {
  // Metadata v4 request: topics = null (all), allow_auto_topic_creation = false.
  const body = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00]);
  const r = await kafkaRequest(ctx.ports.broker, 3, 4, body);
  let o = 4; // throttle_time_ms
  const nBrokers = r.readInt32BE(o);
  o += 4;
  for (let i = 0; i < nBrokers; i++) {
    o += 4; // node_id
    o += 2 + r.readInt16BE(o); // host
    o += 4; // port
    const rack = r.readInt16BE(o);
    o += 2 + (rack > 0 ? rack : 0);
  }
  const cid = r.readInt16BE(o);
  o += 2 + (cid > 0 ? cid : 0);
  const controllerId = r.readInt32BE(o);
  return nBrokers >= 1 && controllerId >= 0;
}
