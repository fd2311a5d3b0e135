import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@meterstream/observability';
import {
  PlanCatalog,
  loadPlans,
  validatePlanDir,
  type Plan,
  type PlanIssue,
} from '@meterstream/plans';
import type { SubmitterMetrics } from './metrics.js';

/**
 * A content fingerprint of a plans directory: the names and bytes of its `*.yaml` / `*.yml` files.
 * Contents, not mtimes: a file rewritten within the filesystem's timestamp resolution with the
 * same size, or a Kubernetes ConfigMap swapping a symlink, changes the bytes but maybe not the
 * mtime. A handful of small files is read in well under a millisecond per run. An unreadable
 * directory has its own fingerprint (the error), so it is reported once, not every run.
 */
export async function plansFingerprint(dir: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    const names = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n)).sort();
    for (const name of names) {
      hash.update(`${name}\0`);
      hash.update(await readFile(join(dir, name)));
      hash.update('\0');
    }
  } catch (err) {
    hash.update(`unreadable: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  return hash.digest('hex');
}

/** What a reload check decided. */
export type ReloadDecision =
  | { action: 'unchanged' }
  | { action: 'load'; catalog: PlanCatalog }
  | { action: 'keep_old'; issues: PlanIssue[] };

/**
 * The reload decision, without I/O: nothing to do when the fingerprint is the one last seen
 * (loaded or refused); otherwise the new plans replace the catalog only when they are all valid
 * (the same rules as at start, where an invalid directory stops the process). A running submitter
 * never swaps in a partial catalog: that would hold every record of the broken file's product.
 */
export function decideReload(
  lastFingerprint: string,
  fingerprint: string,
  read: () => { plans: Plan[]; issues: PlanIssue[] },
): ReloadDecision {
  if (fingerprint === lastFingerprint) return { action: 'unchanged' };
  const { plans, issues } = read();
  if (issues.length > 0) return { action: 'keep_old', issues };
  try {
    return { action: 'load', catalog: new PlanCatalog(plans) };
  } catch (err) {
    return {
      action: 'keep_old',
      issues: [{ file: '(catalog)', path: '(root)', message: (err as Error).message }],
    };
  }
}

/** The versions of each plan, for the log line of a reload. */
function summary(catalog: PlanCatalog): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const p of catalog.plans) {
    out[p.productCode] = p.versions.map(
      (v) => `${v.effectiveFrom.toISOString()}: ${v.dimensions.map((d) => d.name).join(',')}`,
    );
  }
  return out;
}

/**
 * The metering plans of a running submitter: read from MS_PLANS_DIR at start and again at the
 * start of every run whose directory content changed, so a seller's plan fix (a dimension added, a
 * product's plan created) sends the records held `dimension_not_in_plan` / `no_plan` on the next
 * run, without a restart (issue 13, ADR 0006). An invalid directory keeps the previous catalog, is
 * logged as an error once per content, and shows in `plans_invalid` and `plan_reloads_total`.
 */
export class PlanSource {
  private constructor(
    private readonly dir: string,
    private catalog: PlanCatalog,
    private fingerprint: string,
    private readonly metrics: SubmitterMetrics,
    private readonly logger: Logger,
  ) {}

  /** Loads the directory at start; throws CONFIG_INVALID on invalid plans (as before). */
  static async open(dir: string, metrics: SubmitterMetrics, logger: Logger): Promise<PlanSource> {
    const fingerprint = await plansFingerprint(dir);
    const catalog = await loadPlans(dir);
    metrics.plansInvalid.set(0);
    return new PlanSource(dir, catalog, fingerprint, metrics, logger);
  }

  /** Re-reads the directory if its content changed; returns the catalog to use for this run. */
  async refresh(): Promise<PlanCatalog> {
    const fingerprint = await plansFingerprint(this.dir);
    if (fingerprint === this.fingerprint) return this.catalog;
    const read = await validatePlanDir(this.dir);
    const d = decideReload(this.fingerprint, fingerprint, () => read);
    this.fingerprint = fingerprint;
    if (d.action === 'load') {
      this.catalog = d.catalog;
      this.metrics.planReloads.inc({ outcome: 'loaded' });
      this.metrics.plansInvalid.set(0);
      this.logger.info(
        { dir: this.dir, plans: summary(d.catalog) },
        'metering plans changed on disk; reloaded',
      );
    } else if (d.action === 'keep_old') {
      this.metrics.planReloads.inc({ outcome: 'invalid' });
      this.metrics.plansInvalid.set(1);
      this.logger.error(
        { alert: 'plans_invalid', dir: this.dir, issues: d.issues },
        'metering plans changed on disk but are invalid; the previous plans stay in use',
      );
    }
    return this.catalog;
  }
}
