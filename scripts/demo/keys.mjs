// Step 4, through the services' own CLIs: customers and contracts in the submitter's registry, an
// ingest API key, and a console user.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { HOUR_MS } from '@meterstream/runtime';
import { ROOT } from './options.mjs';
import { info, step } from './output.mjs';
import { demoFiles } from './services.mjs';

const dist = (p) => path.join(ROOT, p);

/** Customers (contracts from the month of the oldest generated hour) and the entitlement sync. */
function registerCustomers(o, procs, envs, customers, conPlan) {
  step("customers and contracts in the submitter's registry (meterstream-submitter CLI)");
  const subCli = dist('services/submitter/dist/cli.js');
  const oldest = new Date(Date.now() - (o.hours + 2) * HOUR_MS);
  const monthStart = new Date(
    Date.UTC(oldest.getUTCFullYear(), oldest.getUTCMonth(), 1),
  ).toISOString();
  for (const c of customers) {
    const extra =
      c.kind === 'account'
        ? ['--account', '--license-arn', c.licenseArn, '--period-start', monthStart]
        : [];
    procs.cli(subCli, ['customers', 'add', c.plan.productCode, c.id, ...extra], envs.submitter);
  }
  const synced = procs.cli(subCli, ['entitlements', 'sync', conPlan.productCode], envs.submitter);
  info(`${customers.length} customers added; ${synced.trim().split('\n').pop()}`);
}

/** An ingest API key for both products; the key in clear. */
function createApiKey(o, procs, plans, keysFile) {
  step('ingest API key (meterstream keys create)');
  const keyOut = procs.cli(dist('services/ingest/dist/cli.js'), [
    'keys',
    'create',
    '--tenant',
    `demo-${o.run}`,
    '--products',
    `${plans.subPlan.productCode},${plans.conPlan.productCode}`,
    '--note',
    'npm run demo',
    '--json',
    '--file',
    keysFile,
  ]);
  const apiKey = JSON.parse(keyOut.trim().split('\n').pop()).key;
  info(`key ${apiKey.slice(0, 10)}… (stored hashed in ${path.relative(ROOT, keysFile)})`);
  return apiKey;
}

/** The console user `demo` (operator); its password. */
function createConsoleUser(procs, usersFile) {
  step('console user (meterstream-console-add-user)');
  const password = `demo-${randomBytes(9).toString('base64url')}`;
  procs.cli(
    dist('services/console/dist/add-user.js'),
    ['--file', usersFile, '--username', 'demo', '--role', 'operator'],
    {},
    `${password}\n`,
  );
  info(`user demo (operator)`);
  return password;
}

/** Step 4: registry, ingest key and console user, in fresh files; `{ apiKey, password }`. */
export function createAccess(o, procs, envs, plans, customers) {
  const { keysFile, usersFile } = demoFiles(o);
  rmSync(keysFile, { force: true });
  rmSync(usersFile, { force: true });
  registerCustomers(o, procs, envs, customers, plans.conPlan);
  const apiKey = createApiKey(o, procs, plans, keysFile);
  const password = createConsoleUser(procs, usersFile);
  return { apiKey, password };
}
