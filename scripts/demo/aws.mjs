// The AWS side of the demo: a private emulator (unless --stack-aws), its faults (--faults), the
// demo products of plans/, and the customers' subscriptions and contract entitlements.
import path from 'node:path';
import { rmSync } from 'node:fs';
import { DAY_MS } from '@meterstream/runtime';
import { contractEntitlements, partitionOfCustomer } from './customers.mjs';
import { http } from './http.mjs';
import { ROOT } from './options.mjs';
import { info, step } from './output.mjs';
import { ok } from './processes.mjs';

/** What --faults turns on. */
export const DEMO_FAULTS = {
  seed: 7,
  throttlingRate: 0.15,
  internalErrorRate: 0.05,
  unprocessedRate: 0.1,
  dropResponseRate: 0.05,
  lookupThrottlingRate: 0.1,
};

/** Starts the private emulator on a wiped state file. */
export async function startPrivateEmulator(o, procs) {
  step('private AWS emulator');
  const state = path.join(o.data, 'aws-state.json');
  rmSync(state, { force: true });
  procs.start('aws', path.join(ROOT, 'emulators/aws/dist/main.js'), {
    MS_AWS_PORT: String(o.ports.aws),
    MS_AWS_STATE_FILE: state,
    MS_AWS_CLOUDTRAIL_DELAY_MS: '2000',
  });
  await procs.waitFor('the AWS emulator', () => ok(`${o.awsUrl}/_admin/health`));
}

/** Turns the demo's faults on. */
async function setFaults(o) {
  await http('POST', `${o.awsUrl}/_admin/faults`, DEMO_FAULTS);
  step(
    `AWS faults on: ${Object.entries(DEMO_FAULTS)
      .filter(([k]) => k !== 'seed')
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
}

/** Faults (if asked for) and the demo products with every dimension of every plan version. */
export async function registerProducts(o, plans) {
  if (o.faults) await setFaults(o);
  step('register the demo products in the AWS emulator');
  for (const plan of plans) {
    const dims = [...new Set(plan.versions.flatMap((v) => v.dimensions.map((d) => d.name)))];
    const licenseArn = plan.customerIdStyle === 'customerAwsAccountId';
    await http('PUT', `${o.awsUrl}/_admin/products/${plan.productCode}`, {
      dimensions: dims,
      licenseArn,
    });
    info(
      `${plan.productCode} (${plan.pricingModel}): ${dims.join(', ')}${licenseArn ? ', LicenseArn required' : ''}`,
    );
  }
}

/** Subscribes the customers; contract accounts get their entitlements, valid for a year. */
export async function subscribeCustomers(o, catalog, customers) {
  const entitlement = contractEntitlements(customers);
  step('subscribe customers in the AWS emulator');
  const expiry = new Date(Date.now() + 365 * DAY_MS).toISOString();
  for (const c of customers) {
    const account = c.kind === 'account';
    await http('POST', `${o.awsUrl}/_admin/subscriptions`, {
      productCode: c.plan.productCode,
      ...(account
        ? { customerAwsAccountId: c.id, licenseArn: c.licenseArn }
        : { customerIdentifier: c.id }),
    });
    const dims = account ? catalog.dimsAt(c.plan, Date.now()) : [];
    for (const d of dims) {
      await http('POST', `${o.awsUrl}/_admin/entitlements`, {
        productCode: c.plan.productCode,
        dimension: d,
        customerAwsAccountId: c.id,
        licenseArn: c.licenseArn,
        value: { integerValue: entitlement.get(`${c.id}|${d}`) ?? 0 },
        expirationDate: expiry,
      });
    }
    info(
      `${c.plan.productCode}: ${account ? `account ${c.id} (${c.licenseArn.slice(0, 48)}…)` : c.id}` +
        (account
          ? `, entitled ${dims.map((d) => `${d} ${entitlement.get(`${c.id}|${d}`)}`).join(', ')}`
          : '') +
        `, partition ${partitionOfCustomer(c)}`,
    );
  }
  return entitlement;
}
