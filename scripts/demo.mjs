#!/usr/bin/env node
// `npm run demo`: the whole pipeline on one machine, every service as its own process, fed by a
// usage generator that plays a SaaS backend over HTTP, ending with a table that proves, per
// customer and dimension, that what AWS billed is what the events add up to and that CloudTrail
// (as read by the auditor) agrees. The steps live in scripts/demo/ (see traffic.mjs for how the
// simulated clock makes hours bill within minutes). Until the build step, only Node builtins are
// used; the steps after it use the built workspace packages, so they are loaded after it.
import { runUnderPinnedNode } from '../deploy/local/node-runtime.mjs';
import { HELP, parseOptions } from './demo/options.mjs';
import { die, hhmm, step } from './demo/output.mjs';
import { prepare } from './demo/prepare.mjs';
import { Processes } from './demo/processes.mjs';

await runUnderPinnedNode();

let o;
try {
  o = parseOptions(process.argv.slice(2), process.env);
} catch (e) {
  die(e.message);
}
if (o.help) {
  console.log(HELP);
  process.exit(0);
}
const procs = new Processes(o);
process.on('SIGINT', () => {
  console.log('\nCtrl-C: stopping the services…');
  void procs.stopAll().then(() => process.exit(0));
});
process.on('SIGTERM', () => void procs.stopAll().then(() => process.exit(143)));

await main().catch((e) => procs.fail(e?.stack ?? String(e)));

async function main() {
  console.log(
    `Meterstream demo "${o.name}" (run ${o.run}): database ${o.database}, topic ${o.topic}, AWS ${o.ownAws ? 'private emulator' : 'stack emulator'} ${o.awsUrl}`,
  );
  await prepare(o, procs);
  const [stores, aws, customers, plans, services, keys, traffic, expect, consoleUi, report] =
    await Promise.all(
      [
        'stores',
        'aws',
        'customers',
        'plans',
        'services',
        'keys',
        'traffic',
        'expect',
        'console',
        'report',
      ].map((m) => import(`./demo/${m}.mjs`)),
    );

  await stores.freshStores(o);
  if (o.ownAws) await aws.startPrivateEmulator(o, procs);
  const demoPlans = await plans.demoPlans(o);
  if (!demoPlans) return procs.fail('plans/ needs a subscription and a contract product');
  const { subPlan, conPlan, dimsAt } = demoPlans;
  await aws.registerProducts(o, [subPlan, conPlan]);
  const run = customers.pickCustomers(o.run, subPlan, conPlan);
  if (!run) return procs.fail('could not spread customers over the partitions');
  const entitlement = await aws.subscribeCustomers(o, { dimsAt }, run);

  const envs = services.serviceEnvs(o);
  const { apiKey, password } = keys.createAccess(o, procs, envs, demoPlans, run);
  const { h0, hours } = await traffic.hoursToPlay(o);
  await services.startServices(o, procs, envs);
  const gen = new traffic.Traffic(o, procs, { apiKey, customers: run, dimsAt });
  await gen.play(h0, hours);
  await services.awaitOthers(o, procs);

  const spec = expect.expectedRows({
    sent: gen.sent,
    customers: run,
    entitlement,
    dimsAt,
    firstHour: hours[0],
    lastHour: hours[hours.length - 1],
  });
  const input = { spec, stats: gen.stats, customers: run, plans: [subPlan, conPlan] };
  step(
    `waiting for the aggregator to freeze ${hhmm(hours[hours.length - 1])} (idle partitions), the submitter to send and the auditor to read CloudTrail`,
  );
  const result = await expect.settle(o, procs, input);
  const consoleCheck = await consoleUi.checkConsole(o, password, conPlan, run);
  const custList = expect.customerList(run);
  const allMatched = await report.report(o, { result, consoleCheck, custList });
  if (o.once) {
    await procs.stopAll();
    process.exit(allMatched ? 0 : 1);
  }
  report.printInteractive(o, password);
  await gen.live();
}
