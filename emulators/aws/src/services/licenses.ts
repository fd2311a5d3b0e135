import { createHash } from 'node:crypto';
import { HOUR_MS } from '@meterstream/runtime';
import { AwsError } from '../aws-error.js';
import type { Subscription } from '../state.js';
import { str, type Json } from '../wire.js';

/**
 * After a license is deprovisioned (or its agreement ends) AWS accepts the usage of its active hours
 * for one more hour ("the seller has one hour to send the remaining usage"); later records of the
 * license are `CustomerNotSubscribed`.
 */
export const FINAL_USAGE_WINDOW_MS = HOUR_MS;

function ms(iso: string | undefined): number | undefined {
  return iso === undefined ? undefined : Date.parse(iso);
}

/** The end of a license's activation: its end time or its deprovisioning, whichever is first. */
export function activationEnd(sub: Subscription): number | undefined {
  const ends = [ms(sub.endTime), ms(sub.deprovisionedAt)].filter(
    (x): x is number => x !== undefined,
  );
  return ends.length > 0 ? Math.min(...ends) : undefined;
}

/**
 * Whether the UTC hour starting at `hourMs` overlaps the license's activation period
 * [startTime, end): a license activated at 10:20 or deprovisioned at 10:20 still meters 10:00–11:00.
 */
export function hourInActivation(sub: Subscription, hourMs: number): boolean {
  const start = ms(sub.startTime);
  const end = activationEnd(sub);
  if (start !== undefined && hourMs + HOUR_MS <= start) return false;
  return end === undefined || hourMs < end;
}

/** Whether AWS still takes records of this subscription at `now` (its final hour not yet over). */
export function stillMeterable(sub: Subscription, now: number): boolean {
  const end = activationEnd(sub);
  return end === undefined || now < end + FINAL_USAGE_WINDOW_MS;
}

/** Whether the record's customer fields name the license's holder. */
function holds(sub: Subscription, rec: Json): boolean {
  const acct = str(rec.CustomerAWSAccountId);
  const id = str(rec.CustomerIdentifier);
  if (acct !== undefined) return acct === sub.customerAwsAccountId;
  return id !== undefined && id === sub.customerIdentifier;
}

/**
 * The checks of a record that names a LicenseArn, each rejecting the whole batch with
 * InvalidLicenseException (the model: "Ensure the LicenseArn is valid, matches the customer, and
 * usage is within the license activation period").
 */
export function checkLicense(
  sub: Subscription | undefined,
  productCode: string,
  rec: Json,
  hourMs: number,
): Subscription {
  if (!sub || sub.productCode !== productCode) {
    throw new AwsError('InvalidLicenseException', 'The LicenseArn is not valid for this product');
  }
  if (!holds(sub, rec)) {
    throw new AwsError('InvalidLicenseException', 'The LicenseArn does not belong to the customer');
  }
  if (!hourInActivation(sub, hourMs)) {
    throw new AwsError(
      'InvalidLicenseException',
      'The usage is outside the license activation period',
    );
  }
  return sub;
}

/**
 * The id of the purchase agreement behind a subscription: deterministic in the seed and the
 * subscription's key, so it survives restarts without consuming the id sequence.
 */
export function agreementIdOf(seed: number, sub: Subscription): string {
  const key = [sub.productCode, sub.customerAwsAccountId, sub.customerIdentifier, sub.licenseArn];
  const h = createHash('sha256')
    .update(`${seed}:agmt:${JSON.stringify(key)}`)
    .digest('hex');
  return `agmt-${BigInt(`0x${h.slice(0, 30)}`).toString(36)}`;
}
