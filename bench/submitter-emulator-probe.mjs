// Measures the AWS emulator's own cost of one 25-record BatchMeterUsage call (no network, no
// submitter) as its billing ledger grows, to tell emulator-bound bench time from submitter time.
//   node bench/submitter-emulator-probe.mjs
import { performance } from 'node:perf_hooks';
import { EmulatorCore, systemClock } from '../emulators/aws/dist/index.js';
import { emptyState } from '../emulators/aws/dist/state.js';

const core = new EmulatorCore(
  emptyState(1),
  systemClock,
  { accountId: '111122223333', cloudTrailDelayMs: 0, seed: 1 },
  () => {},
);
const DIMS = ['api', 'storage', 'exports', 'seats', 'gpu'];
core.putProduct({ productCode: 'p', dimensions: DIMS, licenseArn: false });
const N = 100_000;
for (let i = 0; i < N; i++)
  core.state.subscriptions.push({ productCode: 'p', customerIdentifier: `c${i}` });
const ts = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000;
const ctx = {
  accessKeyId: 'AKID',
  region: 'us-east-1',
  sourceIp: '127.0.0.1',
  userAgent: 'probe',
  requestId: 'r',
};
let next = 0;
const call = () => {
  const recs = [];
  for (let k = 0; k < 25; k++, next++) {
    recs.push({
      Timestamp: ts / 1000,
      CustomerIdentifier: `c${Math.floor(next / 5)}`,
      Dimension: DIMS[next % 5],
      Quantity: 0,
    });
  }
  core.batchMeterUsage({ ProductCode: 'p', UsageRecords: recs }, ctx);
};
const out = [];
for (const target of [0, 25_000, 50_000, 100_000, 200_000]) {
  while (core.state.billing.length < target) call();
  const t = performance.now();
  for (let i = 0; i < 20; i++) call();
  out.push({
    billed: core.state.billing.length,
    msPerCall: +((performance.now() - t) / 20).toFixed(2),
  });
}
console.log(JSON.stringify(out));
