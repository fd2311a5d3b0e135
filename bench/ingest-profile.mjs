// Summarizes a V8 .cpuprofile (from BENCH_CPU_PROF=1 npm run bench:ingest): self time by
// function and by package, to say what limits ingest throughput.
// Usage: node bench/ingest-profile.mjs bench/results/profiles/<file>.cpuprofile
import { readFileSync } from 'node:fs';

const prof = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const dt = new Map();
for (let i = 0; i < prof.samples.length; i++)
  dt.set(prof.samples[i], (dt.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0));
const total = [...dt.values()].reduce((a, b) => a + b, 0);
const byFn = new Map();
const byPkg = new Map();
for (const node of prof.nodes) {
  const t = dt.get(node.id) ?? 0;
  if (!t) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const key = `${functionName || '(anon)'} ${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/\/work\/main\//, '')}:${lineNumber}`;
  byFn.set(key, (byFn.get(key) ?? 0) + t);
  const pkg = url.includes('node_modules/')
    ? url.replace(/^.*node_modules\/((@[^/]+\/)?[^/]+).*$/, '$1')
    : url.startsWith('file://')
      ? url.replace(/^file:\/\/\/work\/main\/([^/]+\/[^/]+).*$/, '$1')
      : url
        ? 'node:internal'
        : functionName;
  byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + t);
}
const top = (m, n) =>
  [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${((v / total) * 100).toFixed(1).padStart(5)} %  ${k}`);
process.stdout.write(
  `by package:\n${top(byPkg, 15).join('\n')}\n\nby function:\n${top(byFn, 25).join('\n')}\n`,
);
