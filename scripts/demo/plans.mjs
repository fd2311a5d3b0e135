// The demo's two products from plans/: one subscription and one contract product.
import { loadPlans } from '@meterstream/plans';

/** The subscription and contract plans and the dimensions of a plan at an instant; undefined when plans/ lacks one. */
export async function demoPlans(o) {
  const catalog = await loadPlans(o.plansDir);
  const subPlan = catalog.plans.find((p) => p.pricingModel === 'subscription');
  const conPlan = catalog.plans.find((p) => p.pricingModel === 'contract');
  if (!subPlan || !conPlan) return undefined;
  const dimsAt = (plan, ms) =>
    catalog.versionAt(plan.productCode, new Date(ms)).dimensions.map((d) => d.name);
  return { subPlan, conPlan, dimsAt };
}
