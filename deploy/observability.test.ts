import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// Alerts and dashboards that name a metric nobody exports stay silent forever. This test reads
// the metric names each service registers in its source and checks every expression against them.

const root = fileURLToPath(new URL('../', import.meta.url));
const SERVICES = ['ingest', 'aggregator', 'submitter', 'auditor', 'console'];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

function registeredMetrics(): Set<string> {
  const names = new Set<string>();
  const re = /\.(counter|gauge|histogram)(?:<[^>]*>)?\(\s*'([a-z0-9_]+)'/g;
  for (const svc of SERVICES) {
    for (const file of sources(join(root, 'services', svc, 'src'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(re)) {
        const name = `meterstream_${svc}_${m[2]}`;
        names.add(name);
        if (m[1] === 'histogram')
          for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
      }
    }
  }
  return names;
}

const referenced = (expr: string): string[] =>
  [...expr.matchAll(/meterstream_[a-z0-9_]+/g)].map((m) => m[0]);

describe('Prometheus alerts and the Grafana dashboard', () => {
  const known = registeredMetrics();

  it('finds the metrics the services register', () => {
    expect(known.has('meterstream_ingest_events_accepted_total')).toBe(true);
    expect(known.size).toBeGreaterThan(20);
  });

  it('alert rules only use metrics that exist, and say what they mean', () => {
    const doc = parse(readFileSync(join(root, 'deploy/prometheus/alerts.yml'), 'utf8')) as {
      groups: { rules: { alert: string; expr: string; annotations?: { summary?: string } }[] }[];
    };
    const rules = doc.groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThanOrEqual(8);
    for (const r of rules) {
      const used = referenced(r.expr);
      expect(used.length, r.alert).toBeGreaterThan(0);
      for (const m of used) expect(known.has(m), `${r.alert} uses unknown metric ${m}`).toBe(true);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
    }
  });

  it('dashboard panels only use metrics that exist', () => {
    const dash = JSON.parse(
      readFileSync(join(root, 'deploy/grafana/dashboards/meterstream.json'), 'utf8'),
    ) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    for (const p of dash.panels) {
      for (const t of p.targets) {
        for (const m of referenced(t.expr))
          expect(known.has(m), `${p.title}: unknown metric ${m}`).toBe(true);
      }
    }
  });

  it('Prometheus scrapes every service', () => {
    for (const file of ['prometheus.yml', 'prometheus.docker.yml']) {
      const cfg = parse(readFileSync(join(root, 'deploy/prometheus', file), 'utf8')) as {
        scrape_configs: { job_name: string }[];
      };
      const jobs = cfg.scrape_configs.map((s) => s.job_name);
      for (const svc of SERVICES) expect(jobs, file).toContain(`meterstream-${svc}`);
    }
  });
});
