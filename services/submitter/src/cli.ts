#!/usr/bin/env node
import { isEntryPoint } from '@meterstream/config';
import { ClickHouse, migrate } from '@meterstream/clickhouse';
import { createLogger } from '@meterstream/observability';
import { loadPlans, validatePlanDir, type Plan } from '@meterstream/plans';
import { awsConfigFromEnv, entitlementClient } from './aws.js';
import { syncEntitlements } from './entitlements.js';
import { loadSubmitterEnv, type SubmitterEnv } from './env.js';
import { SUBMITTER_MIGRATIONS } from './migrations.js';
import { Store, type Subscription } from './store.js';

const HELP = `meterstream-submitter — metering plans, customers and contracts

Usage:
  meterstream-submitter plans validate            validate every plan file (MS_PLANS_DIR)
  meterstream-submitter plans show [product]      print plans and their versions
  meterstream-submitter customers list [product]  list subscriptions
  meterstream-submitter customers add <product> <customer> [--account] [--license-arn ARN]
                         [--period-start ISO] [--period-end ISO] [--buyer NAME]
  meterstream-submitter customers remove <product> <customer>
  meterstream-submitter entitlements sync [product]  pull contract terms from GetEntitlements (paged)
  meterstream-submitter --help

Configuration comes from the environment (see src/env.ts): MS_PLANS_DIR, MS_CLICKHOUSE_*, MS_AWS_*.
`;

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function withStore<T>(config: SubmitterEnv, fn: (store: Store) => Promise<T>): Promise<T> {
  const ch = new ClickHouse({
    url: config.MS_CLICKHOUSE_URL,
    user: config.MS_CLICKHOUSE_USER,
    password: config.MS_CLICKHOUSE_PASSWORD,
    database: config.MS_CLICKHOUSE_DATABASE,
  });
  try {
    await migrate(ch, 'submitter', SUBMITTER_MIGRATIONS, {
      database: config.MS_CLICKHOUSE_DATABASE,
      topology: { kind: 'single' },
    });
    return await fn(new Store(ch, config.MS_CLICKHOUSE_DATABASE));
  } finally {
    await ch.close();
  }
}

function showPlan(p: Plan): string {
  const lines = [
    `${p.productCode}${p.licenseArn ? ` (${p.licenseArn})` : ''} — ${p.name}: ${p.pricingModel}, ${p.customerIdStyle}`,
  ];
  for (const v of p.versions) {
    lines.push(`  from ${v.effectiveFrom.toISOString()}`);
    for (const d of v.dimensions)
      lines.push(
        `    ${d.name} [${d.unit}] ${d.pricePerUnit}/unit, rounding ${d.rounding}${d.description ? ` — ${d.description}` : ''}`,
      );
  }
  lines.push(
    `  notify: emails ${p.notify.emails.join(', ') || '-'}; slack ${p.notify.slackWebhooks.length} webhook(s)`,
  );
  return lines.join('\n');
}

/** Runs the CLI; returns the exit status. */
export async function runCli(
  argv: string[],
  print: (s: string) => void = (s) => process.stdout.write(`${s}\n`),
): Promise<number> {
  const [group, cmd, ...rest] = argv;
  if (!group || group === '--help' || group === '-h' || cmd === '--help') {
    print(HELP);
    return 0;
  }
  const config = loadSubmitterEnv();
  if (group === 'plans' && cmd === 'validate') {
    const { plans, issues } = await validatePlanDir(config.MS_PLANS_DIR);
    for (const i of issues) print(`${i.file} ${i.path}: ${i.message}`);
    print(issues.length === 0 ? `${plans.length} plan(s) valid` : `${issues.length} issue(s)`);
    return issues.length === 0 ? 0 : 1;
  }
  if (group === 'plans' && cmd === 'show') {
    const catalog = await loadPlans(config.MS_PLANS_DIR);
    const list = rest[0]
      ? [catalog.resolveProduct(rest[0])].filter((p): p is Plan => p !== undefined)
      : catalog.plans;
    if (list.length === 0) {
      print(`no plan for ${rest[0]}`);
      return 1;
    }
    print(list.map(showPlan).join('\n\n'));
    return 0;
  }
  if (group === 'customers' && cmd === 'list') {
    return withStore(config, async (store) => {
      const subs = (await store.subscriptions()).filter(
        (s) => !rest[0] || s.productCode === rest[0],
      );
      for (const s of subs) {
        print(
          `${s.productCode}\t${s.customer}\t${s.customerKind}\t${s.status}\t${new Date(s.periodStart).toISOString()}..${new Date(s.periodEnd).toISOString()}\t${s.source}`,
        );
      }
      print(`${subs.length} subscription(s)`);
      return 0;
    });
  }
  if (group === 'customers' && (cmd === 'add' || cmd === 'remove')) {
    const [productCode, customer] = rest;
    if (!productCode || !customer) {
      print('usage: customers add|remove <product> <customer>');
      return 2;
    }
    const plans = await loadPlans(config.MS_PLANS_DIR);
    const plan = plans.resolveProduct(productCode);
    if (!plan) {
      print(`no plan for product ${productCode}`);
      return 1;
    }
    const account = rest.includes('--account') || plan.customerIdStyle === 'customerAwsAccountId';
    const sub: Subscription = {
      productCode: plan.productCode,
      customer,
      customerKind: account ? 'account' : 'identifier',
      licenseArn: flag(rest, '--license-arn') ?? '',
      buyerName: flag(rest, '--buyer') ?? '',
      agreementId: '',
      status: cmd === 'add' ? 'active' : 'cancelled',
      periodStart: Date.parse(flag(rest, '--period-start') ?? '1970-01-01T00:00:00Z'),
      periodEnd: Date.parse(flag(rest, '--period-end') ?? '2100-01-01T00:00:00Z'),
      source: 'cli',
    };
    if (Number.isNaN(sub.periodStart) || Number.isNaN(sub.periodEnd)) {
      print('--period-start/--period-end must be ISO timestamps');
      return 2;
    }
    if (account && !/^\d{12}$/.test(customer)) {
      print('an AWS account id has 12 digits');
      return 2;
    }
    await withStore(config, (store) => store.upsertSubscriptions([sub]));
    print(
      `${cmd === 'add' ? 'added' : 'removed'} ${customer} ${cmd === 'add' ? 'to' : 'from'} ${plan.productCode}`,
    );
    return 0;
  }
  if (group === 'entitlements' && cmd === 'sync') {
    const plans = await loadPlans(config.MS_PLANS_DIR);
    const targets = plans.plans.filter(
      (p) => p.pricingModel === 'contract' && (!rest[0] || p.productCode === rest[0]),
    );
    return withStore(config, async (store) => {
      const client = entitlementClient(awsConfigFromEnv(config));
      try {
        const results = await syncEntitlements(
          {
            store,
            client,
            fetch: {
              backoffBaseMs: config.MS_SUBMITTER_BACKOFF_BASE_MS,
              backoffMaxMs: config.MS_SUBMITTER_BACKOFF_MAX_MS,
            },
          },
          targets.map((p) => p.productCode),
          // The submitter's clock (the offset is for tests and replays): a first term without a
          // known subscription start begins at this time's month start.
          Date.now() + config.MS_SUBMITTER_CLOCK_OFFSET_MS,
        );
        for (const r of results)
          print(`${r.productCode}: ${r.entitlements} entitlement(s), ${r.terms} term(s) written`);
        print(`synced ${results.reduce((n, r) => n + r.entitlements, 0)} entitlement(s)`);
        return 0;
      } finally {
        client.destroy();
      }
    });
  }
  print(`unknown command: ${argv.join(' ')}\n\n${HELP}`);
  return 2;
}

if (isEntryPoint(import.meta.url)) {
  runCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      createLogger('submitter-cli').error({ err }, 'command failed');
      process.exit(1);
    },
  );
}
