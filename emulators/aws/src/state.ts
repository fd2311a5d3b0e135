import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';

/** A metered product as an admin registered it. */
export interface Product {
  productCode: string;
  dimensions: string[];
  /** Records must carry the subscription's LicenseArn (SaaS products listed from 2026-06-01). */
  licenseArn: boolean;
  /**
   * Listed as a new SaaS integration (Concurrent Agreements, from 2026-06-01): records must name
   * `CustomerAWSAccountId` + `LicenseArn`, `CustomerIdentifier` is refused, and ResolveCustomer
   * leaves `CustomerIdentifier` out.
   */
  newIntegration?: boolean | undefined;
}

/** An agreement's status, as the Agreement API's `AgreementStatus` enum names it. */
export type AgreementStatus =
  | 'ACTIVE'
  | 'ARCHIVED'
  | 'CANCELLED'
  | 'EXPIRED'
  | 'RENEWED'
  | 'REPLACED'
  | 'ROLLED_BACK'
  | 'SUPERSEDED'
  | 'TERMINATED';

/** Units a contract bought of one dimension (the agreement's configurable upfront term). */
export interface ContractTerm {
  dimension: string;
  quantity: number;
}

/**
 * A customer subscribed to a product; either id (or both, for the same customer). With a
 * `licenseArn` it is one license (one purchase agreement): an account may hold several licenses for
 * one product (Concurrent Agreements), each with its own activation period.
 */
export interface Subscription {
  productCode: string;
  customerIdentifier?: string | undefined;
  customerAwsAccountId?: string | undefined;
  licenseArn?: string | undefined;
  /** Activation period of the license, ISO-8601; open at either end when unset. */
  startTime?: string | undefined;
  endTime?: string | undefined;
  /** When the license was deprovisioned (ISO-8601); usage before it is accepted one more hour. */
  deprovisionedAt?: string | undefined;
  /** When the buyer accepted the agreement (ISO-8601; set when registered). */
  acceptedAt?: string | undefined;
  /** Last change of the agreement (ISO-8601). */
  updatedAt?: string | undefined;
  /** The agreement's status; ACTIVE when unset. */
  agreementStatus?: AgreementStatus | undefined;
  offerId?: string | undefined;
  /** Contract terms: units bought per dimension (none for pay-as-you-go). */
  terms?: ContractTerm[] | undefined;
}

/** A registration token the fulfillment redirect carries (`x-amzn-marketplace-token`). */
export interface RegistrationToken {
  token: string;
  productCode: string;
  customerIdentifier?: string | undefined;
  customerAwsAccountId?: string | undefined;
  licenseArn?: string | undefined;
  /** Epoch ms after which ResolveCustomer answers ExpiredTokenException. */
  expiresAt: number;
}

/** An entitlement value: exactly one of the four kinds, as in the Entitlement Service. */
export interface EntitlementValue {
  IntegerValue?: number | undefined;
  DoubleValue?: number | undefined;
  BooleanValue?: boolean | undefined;
  StringValue?: string | undefined;
}

/** A contract entitlement returned by GetEntitlements. */
export interface Entitlement {
  productCode: string;
  dimension: string;
  customerIdentifier?: string | undefined;
  customerAwsAccountId?: string | undefined;
  licenseArn?: string | undefined;
  value: EntitlementValue;
  /** ISO-8601. */
  expirationDate?: string | undefined;
}

/** One billed (product, customer, dimension, hour): the first quantity AWS received. */
export interface BillingRecord {
  productCode: string;
  /** `id:<CustomerIdentifier>` or `acct:<CustomerAWSAccountId>` of the subscription. */
  customerKey: string;
  customerIdentifier?: string | undefined;
  customerAwsAccountId?: string | undefined;
  licenseArn?: string | undefined;
  dimension: string;
  /** Start of the UTC hour, ISO-8601. */
  hour: string;
  /** Timestamp of the first record, ISO-8601. */
  timestamp: string;
  /** Decimal string, as billed. */
  quantity: string;
  meteringRecordId: string;
  /** Emulator clock when first received, ISO-8601. */
  receivedAt: string;
  operation: 'BatchMeterUsage' | 'MeterUsage';
}

/** One CloudTrail event as stored (the `record` is the event's JSON document). */
export interface TrailEvent {
  eventId: string;
  eventName: string;
  eventSource: string;
  /** Epoch ms. */
  eventTime: number;
  /** Epoch ms from which LookupEvents returns it. */
  deliverAt: number;
  username: string;
  accessKeyId: string;
  readOnly: boolean;
  record: Record<string, unknown>;
  /** Set when the fault injector tampered with this event (for auditor tests). */
  tampered?: string | undefined;
}

const rate = z.number().min(0).max(1);

/** Fault knobs; every rate is a probability per request (or per record), drawn from the seed. */
export const faultsSchema = z
  .object({
    seed: z.number().int().optional(),
    throttlingRate: rate.default(0),
    internalErrorRate: rate.default(0),
    unprocessedRate: rate.default(0),
    latencyMs: z.number().int().min(0).max(60_000).default(0),
    dropResponseRate: rate.default(0),
    lookupThrottlingRate: rate.default(0),
    /** LookupEvents requests per second before ThrottlingException (AWS: 2); 0 disables. */
    lookupRatePerSecond: z.number().int().min(0).default(2),
    cloudTrail: z
      .object({
        dropRate: rate.default(0),
        alterQuantityRate: rate.default(0),
        injectForeignRate: rate.default(0),
        duplicateOtherQuantityRate: rate.default(0),
      })
      .strict()
      .default({
        dropRate: 0,
        alterQuantityRate: 0,
        injectForeignRate: 0,
        duplicateOtherQuantityRate: 0,
      }),
  })
  .strict();

/** Active fault configuration. */
export type Faults = z.infer<typeof faultsSchema>;

/** Faults off. */
export function noFaults(): Faults {
  return faultsSchema.parse({});
}

/** Everything the emulator persists. */
export interface State {
  version: 1;
  products: Record<string, Product>;
  subscriptions: Subscription[];
  entitlements: Entitlement[];
  billing: BillingRecord[];
  cloudTrail: TrailEvent[];
  faults: Faults;
  clockOffsetMs: number;
  /** Position of the seeded random stream, so a restart continues it. */
  rngState: number;
  /** Counter behind meteringRecordIds and eventIds, so ids stay unique across restarts. */
  sequence: number;
  /** Registration tokens minted through the admin API (absent in older state files). */
  registrationTokens?: RegistrationToken[] | undefined;
  /** Metering requests per second per account, region and operation (admin-set; 0 = no quota). */
  meteringRps?: number | undefined;
}

/** A fresh, empty state. */
export function emptyState(seed: number): State {
  return {
    version: 1,
    products: {},
    subscriptions: [],
    entitlements: [],
    billing: [],
    cloudTrail: [],
    faults: noFaults(),
    clockOffsetMs: 0,
    rngState: seed >>> 0,
    sequence: 0,
  };
}

/**
 * Persists the state as one JSON file, written to a temp file and renamed so a crash never leaves
 * a torn file. Writes are debounced; `flush()` writes now.
 */
export class StateFile {
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;

  constructor(
    readonly path: string | undefined,
    private readonly snapshot: () => State,
    private readonly debounceMs = 25,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** Loads a saved state, or undefined when there is none. */
  static async load(path: string | undefined): Promise<State | undefined> {
    if (!path) return undefined;
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const parsed = JSON.parse(text) as State;
    if (parsed.version !== 1) throw new Error(`unsupported state file version in ${path}`);
    parsed.faults = faultsSchema.parse(parsed.faults ?? {});
    return parsed;
  }

  /** Marks the state changed; it is written shortly. */
  changed(): void {
    if (!this.path) return;
    this.dirty = true;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch(this.onError);
    }, this.debounceMs);
  }

  /** Writes any pending change now. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const run = async (): Promise<void> => {
      if (!this.path || !this.dirty) return;
      this.dirty = false;
      const text = JSON.stringify(this.snapshot());
      const tmp = `${this.path}.${process.pid}.tmp`;
      await mkdir(dirname(this.path), { recursive: true });
      await writeFile(tmp, text);
      await rename(tmp, this.path);
    };
    this.writing = this.writing.then(run, run);
    return this.writing;
  }
}
