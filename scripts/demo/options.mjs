// The demo's command line: flags, environment fallbacks and every name and port derived from them.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const HELP = `usage: npm run demo [-- options]

Installs what is missing, builds, brings the native stack up (deploy/local), starts ingest,
aggregator, submitter, auditor and console as separate processes on a demo database and topic,
registers the demo products of plans/ and a few customers in the AWS emulator, plays a SaaS
backend sending usage (the last 4 complete hours on a simulated clock, duplicates, late events),
and prints per customer and dimension: events, unique quantity, windows, records sent, billed
by AWS, audited in CloudTrail. Then it keeps running (console URL and sign-in printed, a live
trickle of usage) until Ctrl-C.

  --once             exit after the table: status 0 only if every row matched
  --name <n>         demo name: database meterstream_<n>, topic meterstream.<n>.<run>.usage,
                     data in .stack/data/demo/<n>, logs .stack/logs/demo[-<n>]-<service>.log
                     (default: demo; env MS_DEMO_NAME)
  --port-base <p>    ports p..p+5 for ingest, aggregator, submitter, auditor, console and a
                     private emulator (default: the services' own defaults 8080, 9101, 9102,
                     9103, 8090; env MS_DEMO_PORT_BASE)
  --stack-aws        use the stack's AWS emulator (:4566, shared) instead of a private one
                     (env MS_DEMO_STACK_AWS=1); see "AWS emulator" below
  --faults           make the private AWS emulator misbehave: throttling, 500s, unprocessed
                     records, lost answers, throttled LookupEvents (the table must still match)
  --hours <n>        complete past hours to generate (1..20, default 4)
  --timeout <s>      longest wait for billing and audit to settle (default 240)
  --json <file>      also write the table as JSON (for the system test)
  --no-install       never run npm ci (fail when node_modules is missing or stale)
  --no-build         skip npx tsc -b
  --no-stack         do not run deploy/local/stack.mjs up (the stack is given by MS_KAFKA_BROKERS,
                     MS_SCHEMA_REGISTRY_URL, MS_CLICKHOUSE_URL, MS_SMTP_HOST/PORT)
  --help             this text

AWS emulator: by default the demo starts its own emulator process (port 4567 or <p>+5, state in
.stack/data/demo/<name>/aws-state.json, wiped per run), so its CloudTrail and entitlements hold
only this run: the auditor then has nothing foreign to report. With --stack-aws, earlier runs and
other users of the stack's emulator are visible: the auditor reports their CloudTrail records as
unknown_to_ledger and the submitter's entitlement sync picks up their contract customers (rows
of this run still match).

Each run drops and recreates its own database (meterstream_<name>), uses a new topic and new
customer ids, so runs never mix. The stack itself is shared and never stopped.`;

/** The services' own default ports, used unless --port-base moves them all. */
const DEFAULT_PORTS = {
  ingest: 8080,
  aggregator: 9101,
  submitter: 9102,
  auditor: 9103,
  console: 8090,
  aws: 4567,
};

/** Ports p..p+5 in the order of DEFAULT_PORTS. */
function portsFrom(base) {
  if (!base) return { ...DEFAULT_PORTS };
  return Object.fromEntries(Object.keys(DEFAULT_PORTS).map((k, i) => [k, base + i]));
}

/**
 * The demo's options from its arguments and environment; `{ help: true }` for --help. Throws an
 * Error with the message to print for a bad flag.
 */
export function parseOptions(argv, env, run = randomBytes(3).toString('hex')) {
  if (argv.includes('--help') || argv.includes('-h')) return { help: true };
  const has = (f) => argv.includes(f);
  const opt = (f, def) => {
    const i = argv.indexOf(f);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : def;
  };
  const name = opt('--name', env.MS_DEMO_NAME || 'demo');
  if (!/^[a-z][a-z0-9_]{0,30}$/.test(name))
    throw new Error(`--name must match [a-z][a-z0-9_]{0,30}: ${name}`);
  // --own-aws is the default (kept as a flag for scripts that pass it).
  const ownAws = !has('--stack-aws') && env.MS_DEMO_STACK_AWS !== '1';
  const faults = has('--faults');
  if (faults && !ownAws)
    throw new Error('--faults needs the private emulator (not with --stack-aws)');
  const hours = Number(opt('--hours', '4'));
  if (!Number.isInteger(hours) || hours < 1 || hours > 20) throw new Error('--hours must be 1..20');
  const ports = portsFrom(Number(opt('--port-base', env.MS_DEMO_PORT_BASE || '0')));
  const logs = path.join(ROOT, '.stack', 'logs');
  return {
    help: false,
    once: has('--once'),
    noInstall: has('--no-install'),
    noBuild: has('--no-build'),
    noStack: has('--no-stack'),
    name,
    run,
    ownAws,
    faults,
    hours,
    timeoutS: Number(opt('--timeout', '240')),
    jsonOut: opt('--json', ''),
    ports,
    kafka: env.MS_KAFKA_BROKERS || `127.0.0.1:${env.MS_KAFKA_PORT || 9092}`,
    registry:
      env.MS_SCHEMA_REGISTRY_URL ||
      `http://127.0.0.1:${env.MS_REGISTRY_PORT || 8081}/apis/ccompat/v7`,
    clickhouse: env.MS_CLICKHOUSE_URL || `http://127.0.0.1:${env.MS_CLICKHOUSE_HTTP_PORT || 8123}`,
    smtpHost: env.MS_SMTP_HOST || '127.0.0.1',
    smtpPort: env.MS_SMTP_PORT || '2525',
    smtpWeb: `http://127.0.0.1:${env.MS_SMTP_WEB_PORT || 1080}`,
    awsUrl: ownAws
      ? `http://127.0.0.1:${ports.aws}`
      : `http://127.0.0.1:${env.MS_AWS_PORT || 4566}`,
    database: `meterstream_${name}`,
    topic: `meterstream.${name}.${run}.usage`,
    data: path.join(ROOT, '.stack', 'data', 'demo', name),
    logs,
    logPrefix: `demo${name === 'demo' ? '' : `-${name}`}`,
    plansDir: path.join(ROOT, 'plans'),
  };
}

/** The log file of a service of the demo. */
export function logFile(o, svc) {
  return path.join(o.logs, `${o.logPrefix}-${svc}.log`);
}
