// ClickHouse server from Debian's packages (clickhouse-server 18.16), run as OUR process
// with OUR config under .stack/data/clickhouse — never the system service.
import fs from 'node:fs';
import path from 'node:path';
import {
  HERE,
  aptGetInstall,
  envPorts,
  httpGet,
  mkdirp,
  renderFile,
  run,
  spawnDetached,
  which,
} from '../lib.mjs';

const CONF_SRC = path.join(HERE, 'clickhouse');

function serverBin() {
  return which('clickhouse-server') ?? (which('clickhouse') ? 'clickhouse' : null);
}

function aptInstall(ctx) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // policy-rc.d 101 = "do not start services from maintainer scripts", so the package's
  // postinst cannot start a system server on 8123/9000 behind our back.
  const policy = '/usr/sbin/policy-rc.d';
  const hadPolicy = fs.existsSync(policy);
  if (!hadPolicy) fs.writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    aptGetInstall(['clickhouse-server', 'clickhouse-client'], {
      env,
      onUpdate: () => ctx.log('clickhouse: package not in apt cache, running apt-get update'),
    });
  } finally {
    if (!hadPolicy) fs.rmSync(policy, { force: true });
  }
  // Belt and braces: if a system server got started anyway (systemd or sysv), stop it.
  for (const cmd of [
    ['systemctl', ['disable', '--now', 'clickhouse-server']],
    ['service', ['clickhouse-server', 'stop']],
  ]) {
    if (which(cmd[0])) {
      try {
        run(cmd[0], cmd[1], { env });
      } catch {
        /* no init system / not running */
      }
    }
  }
}

export const name = 'clickhouse';
export const order = 20;
export const healthTimeoutMs = 60000;

export const ports = envPorts({
  http: ['MS_CLICKHOUSE_HTTP_PORT', 8123],
  tcp: ['MS_CLICKHOUSE_TCP_PORT', 9000],
  interserver: ['MS_CLICKHOUSE_INTERSERVER_PORT', 9009],
});

function confDir(ctx) {
  return path.join(ctx.paths.data, 'conf');
}

export async function install(ctx) {
  if (!serverBin() || !which('clickhouse-client')) aptInstall(ctx);
  if (!serverBin()) throw new Error('clickhouse-server binary not found after apt-get install');
  const data = ctx.paths.data;
  for (const d of ['db', 'db/tmp', 'db/user_files', 'db/format_schemas', 'conf'])
    mkdirp(path.join(data, d));
  mkdirp(ctx.paths.logs);
  const vars = {
    HTTP_PORT: ctx.ports.http,
    TCP_PORT: ctx.ports.tcp,
    INTERSERVER_PORT: ctx.ports.interserver,
    DATA_DIR: path.join(data, 'db'),
    CONF_DIR: confDir(ctx),
    LOG_FILE: path.join(ctx.paths.logs, 'clickhouse.log'),
    ERR_LOG_FILE: path.join(ctx.paths.logs, 'clickhouse.err.log'),
    MAX_MEMORY_USAGE: ctx.env.MS_CLICKHOUSE_MAX_MEMORY_USAGE || String(2 * 1024 ** 3),
  };
  for (const f of ['config.xml', 'users.xml', 'metrika.xml']) {
    renderFile(path.join(CONF_SRC, f), path.join(confDir(ctx), f), vars);
  }
}

export function start(ctx) {
  const bin = serverBin();
  const args = bin === 'clickhouse' ? ['server'] : [];
  // cwd = conf dir: relative paths in the config resolve there, and the server writes
  // its preprocessed config (config-preprocessed.xml) next to the config file.
  return spawnDetached({
    cmd: bin,
    args: [...args, `--config-file=${path.join(confDir(ctx), 'config.xml')}`],
    cwd: confDir(ctx),
    logFile: ctx.paths.log,
    pidFile: ctx.paths.pid,
  });
}

/** Healthy = GET /ping answers "Ok." and a trivial query runs. */
export async function health(ctx) {
  const ping = await httpGet(ctx.ports.http, '/ping');
  if (!ping || ping.status !== 200 || ping.body.trim() !== 'Ok.') return false;
  const q = await httpGet(ctx.ports.http, '/?query=SELECT%201');
  return Boolean(q && q.status === 200 && q.body.trim() === '1');
}
