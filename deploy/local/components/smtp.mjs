// Local SMTP test server: MailDev 3 from npm, installed into .stack/cache/maildev (never
// into the repo's node_modules). Mail files live in .stack/data/smtp/mail (survive restarts).
// REST (see README): GET /api/email, GET /api/email/:id, DELETE /api/email/all, GET /api/healthz.
import fs from 'node:fs';
import path from 'node:path';
import { envPorts, httpGet, mkdirp, runAsync, spawnDetached } from '../lib.mjs';

/** Pinned: its REST paths (/api/...) changed between majors. */
export const MAILDEV_VERSION = '3.0.0';

function prefix(ctx) {
  return path.join(ctx.paths.cache, `maildev-${MAILDEV_VERSION}`);
}

function entry(ctx) {
  return path.join(prefix(ctx), 'node_modules', 'maildev', 'package.json');
}

export const name = 'smtp';
export const order = 40;
export const healthTimeoutMs = 30000;

export const ports = envPorts({
  smtp: ['MS_SMTP_PORT', 2525],
  web: ['MS_SMTP_WEB_PORT', 1080],
});

export async function install(ctx) {
  if (fs.existsSync(entry(ctx))) return;
  mkdirp(prefix(ctx));
  // A package.json of its own keeps npm from walking up into the repo's workspace root.
  const pj = path.join(prefix(ctx), 'package.json');
  if (!fs.existsSync(pj))
    fs.writeFileSync(pj, JSON.stringify({ name: 'ms-local-maildev', private: true }, null, 2));
  await runAsync(
    'npm',
    [
      'install',
      '--prefix',
      prefix(ctx),
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      '--omit=dev',
      `maildev@${MAILDEV_VERSION}`,
    ],
    { cwd: prefix(ctx), logFile: ctx.paths.log },
  );
}

function maildevBin(ctx) {
  const pkg = JSON.parse(fs.readFileSync(entry(ctx), 'utf8'));
  const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.maildev;
  return path.join(path.dirname(entry(ctx)), bin);
}

export function start(ctx) {
  const { smtp, web } = ctx.ports;
  return spawnDetached({
    cmd: process.execPath,
    args: [
      maildevBin(ctx),
      '--mail-directory',
      path.join(ctx.paths.data, 'mail'),
      '--smtp',
      String(smtp),
      '--ip',
      '127.0.0.1',
      '--web',
      String(web),
      '--web-ip',
      '127.0.0.1',
    ],
    cwd: prefix(ctx),
    logFile: ctx.paths.log,
    pidFile: ctx.paths.pid,
  });
}

export async function health(ctx) {
  const r = await httpGet(ctx.ports.web, '/api/healthz');
  return Boolean(r && r.status === 200);
}
