import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { MeterstreamError } from '@meterstream/errors';
import { HOUR_MS } from '@meterstream/runtime';

/**
 * Metering plans: one YAML file per product under `plans/`. A plan has versions; a version takes
 * effect from a whole hour and applies to every hour from then until the next version, so a
 * changed plan never rewrites hours already metered.
 */

/** AWS dimension names: 1..100 chars of [A-Za-z0-9_.-] (MeterUsage model pattern). */
const dimensionName = z
  .string()
  .regex(/^[\s\S]{1,255}$/)
  .refine(
    (s) => /^[A-Za-z0-9_.-]{1,100}$/.test(s),
    'must be 1-100 characters of A-Z a-z 0-9 _ . -',
  );

/** A non-negative decimal written as a string (prices are money: no binary floats). */
const decimalString = z
  .union([z.string(), z.number()])
  .transform((v) => String(v))
  .refine(
    (s) => /^\d{1,12}(\.\d{1,8})?$/.test(s),
    'must be a non-negative decimal with at most 8 places',
  );

const hourInstant = z
  .union([z.string(), z.date()])
  .transform((v) => (v instanceof Date ? v : new Date(v)))
  .refine((d) => !Number.isNaN(d.getTime()), 'must be an RFC 3339 timestamp')
  .refine((d) => d.getTime() % HOUR_MS === 0, 'must be the start of an hour (UTC)');

const dimensionSchema = z.object({
  name: dimensionName,
  unit: z.string().min(1).max(64),
  description: z.string().max(500).default(''),
  pricePerUnit: decimalString,
  /**
   * `carry`: each hour bills floor(carried-in + usage) and carries the fraction to the next hour,
   * so the billed total equals the true total rounded down once (DESIGN invariant 5).
   */
  rounding: z.enum(['carry']).default('carry'),
});

const versionSchema = z.object({
  effectiveFrom: hourInstant,
  dimensions: z.array(dimensionSchema).min(1).max(24),
});

const notifySchema = z
  .object({
    emails: z.array(z.string().email()).default([]),
    slackWebhooks: z.array(z.string().url()).default([]),
  })
  .default({ emails: [], slackWebhooks: [] });

/** The schema of one plan file. */
export const planSchema = z
  .object({
    productCode: z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, 'must be an AWS product code'),
    licenseArn: z
      .string()
      .regex(
        /^arn:aws(-[a-z]+)*:license-manager::\d{12}:license:l-[0-9a-zA-Z]{32}$/,
        'must be a license-manager license ARN',
      )
      .optional(),
    name: z.string().min(1).max(200),
    pricingModel: z.enum(['subscription', 'contract']),
    customerIdStyle: z
      .enum(['customerIdentifier', 'customerAwsAccountId'])
      .default('customerIdentifier'),
    notify: notifySchema,
    versions: z.array(versionSchema).min(1),
  })
  .superRefine((plan, ctx) => {
    const times = plan.versions.map((v) => v.effectiveFrom.getTime());
    for (let i = 1; i < times.length; i++) {
      if ((times[i] ?? 0) <= (times[i - 1] ?? 0)) {
        ctx.addIssue({
          code: 'custom',
          path: ['versions', i, 'effectiveFrom'],
          message: 'versions must be in increasing effectiveFrom order',
        });
      }
    }
    plan.versions.forEach((v, i) => {
      const names = v.dimensions.map((d) => d.name);
      const dup = names.find((n, j) => names.indexOf(n) !== j);
      if (dup)
        ctx.addIssue({
          code: 'custom',
          path: ['versions', i, 'dimensions'],
          message: `dimension ${dup} listed twice`,
        });
    });
  });

/** A validated plan. */
export type Plan = z.infer<typeof planSchema>;
/** One version of a plan. */
export type PlanVersion = Plan['versions'][number];
/** One metered dimension of a plan version. */
export type PlanDimension = PlanVersion['dimensions'][number];

/** A problem found in a plan file. */
export interface PlanIssue {
  file: string;
  path: string;
  message: string;
}

/** All plans, indexed by product code and license ARN. */
export class PlanCatalog {
  private readonly byCode = new Map<string, Plan>();
  private readonly byArn = new Map<string, Plan>();

  constructor(readonly plans: readonly Plan[]) {
    for (const p of plans) {
      if (this.byCode.has(p.productCode)) {
        throw new MeterstreamError('CONFIG_INVALID', `two plans for product ${p.productCode}`);
      }
      this.byCode.set(p.productCode, p);
      if (p.licenseArn) this.byArn.set(p.licenseArn, p);
    }
  }

  /** The plan of a product, by product code or by its license ARN alias. */
  resolveProduct(ref: string): Plan | undefined {
    return this.byCode.get(ref) ?? this.byArn.get(ref);
  }

  /** The plan version in force at `at` (the version with the latest effectiveFrom ≤ at). */
  versionAt(productCode: string, at: Date): PlanVersion | undefined {
    const plan = this.byCode.get(productCode);
    if (!plan) return undefined;
    let found: PlanVersion | undefined;
    for (const v of plan.versions) if (v.effectiveFrom.getTime() <= at.getTime()) found = v;
    return found;
  }

  /** The dimension of a product in force at `at`, if it exists then. */
  dimensionAt(productCode: string, dimension: string, at: Date): PlanDimension | undefined {
    return this.versionAt(productCode, at)?.dimensions.find((d) => d.name === dimension);
  }

  /** Whether `dimension` is metered for the product at `at`. */
  hasDimension(productCode: string, dimension: string, at: Date): boolean {
    return this.dimensionAt(productCode, dimension, at) !== undefined;
  }
}

/** Validates one parsed plan document; returns the plan or the issues found. */
export function validatePlan(
  doc: unknown,
  file = '(inline)',
): { plan?: Plan; issues: PlanIssue[] } {
  const r = planSchema.safeParse(doc);
  if (r.success) return { plan: r.data, issues: [] };
  return {
    issues: r.error.issues.map((i) => ({
      file,
      path: i.path.map(String).join('.') || '(root)',
      message: i.message,
    })),
  };
}

/** Reads and validates every `*.yaml`/`*.yml` file of a directory, reporting every issue of every file. */
export async function validatePlanDir(
  dir: string,
): Promise<{ plans: Plan[]; issues: PlanIssue[] }> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n)).sort();
  } catch (err) {
    return {
      plans: [],
      issues: [
        {
          file: dir,
          path: '(dir)',
          message: `cannot read plans directory: ${(err as Error).message}`,
        },
      ],
    };
  }
  const plans: Plan[] = [];
  const issues: PlanIssue[] = [];
  for (const name of names) {
    const file = join(dir, name);
    let doc: unknown;
    try {
      doc = parseYaml(await readFile(file, 'utf8'));
    } catch (err) {
      issues.push({
        file,
        path: '(yaml)',
        message: (err as Error).message.split('\n')[0] ?? 'invalid YAML',
      });
      continue;
    }
    const r = validatePlan(doc, file);
    if (r.plan) plans.push(r.plan);
    issues.push(...r.issues);
  }
  const seen = new Map<string, string>();
  plans.forEach((p, i) => {
    const prev = seen.get(p.productCode);
    if (prev)
      issues.push({
        file: names[i] ?? '?',
        path: 'productCode',
        message: `product ${p.productCode} also defined in ${prev}`,
      });
    seen.set(p.productCode, names[i] ?? '?');
  });
  if (plans.length === 0 && issues.length === 0)
    issues.push({ file: dir, path: '(dir)', message: 'no plan files (*.yaml) found' });
  return { plans, issues };
}

/** Loads the plans of a directory, or throws CONFIG_INVALID naming every issue. */
export async function loadPlans(dir: string): Promise<PlanCatalog> {
  const { plans, issues } = await validatePlanDir(dir);
  if (issues.length > 0) {
    const lines = issues.map((i) => `  ${i.file} ${i.path}: ${i.message}`).join('\n');
    throw new MeterstreamError('CONFIG_INVALID', `invalid metering plans:\n${lines}`, {
      details: { issues },
    });
  }
  return new PlanCatalog(plans);
}
