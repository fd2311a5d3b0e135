// Summarizes V8 .cpuprofile files (BENCH_CPU_PROF=1 npm run bench:ingest, or
// BENCH_NODE_ARGS=--cpu-prof npm run bench:aggregator, or any `node --cpu-prof`): self time by
// package and by function, as shares of the total CPU time sampled (absolute times on a loaded
// machine say little; shares say what limits throughput).
// Usage: node bench/profile.mjs [--top N] <file.cpuprofile>...
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const TOP = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 25;

/** Where a frame's code lives: an npm package, a file of this repository, node's own, or V8. */
function origin(url, functionName) {
  if (url.includes('node_modules/'))
    return url.replace(/^.*node_modules\/((@[^/]+\/)?[^/]+).*$/, '$1');
  if (url.startsWith('file://'))
    return url
      .replace(/^file:\/\//, '')
      .replace(ROOT, '')
      .replace(/^([^/]+\/[^/]+).*$/, '$1');
  return url ? 'node:internal' : functionName;
}

/** Self time (µs) by function and by origin in one profile. */
function selfTimes(file) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const dt = new Map();
  for (let i = 0; i < prof.samples.length; i++)
    dt.set(prof.samples[i], (dt.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0));
  const byFn = new Map();
  const byPkg = new Map();
  for (const node of prof.nodes) {
    const t = dt.get(node.id) ?? 0;
    if (!t) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url
      .replace(/^.*node_modules\//, '')
      .replace(/^file:\/\//, '')
      .replace(ROOT, '');
    const key = `${functionName || '(anon)'} ${where}:${lineNumber}`;
    byFn.set(key, (byFn.get(key) ?? 0) + t);
    const pkg = origin(url, functionName);
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + t);
  }
  const total = [...dt.values()].reduce((a, b) => a + b, 0);
  const idle = byPkg.get('(idle)') ?? 0;
  return { byFn, byPkg, total, idle };
}

const top = (m, total, n) =>
  [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${((v / total) * 100).toFixed(1).padStart(5)} %  ${k}`);

for (const file of args) {
  const { byFn, byPkg, total, idle } = selfTimes(file);
  process.stdout.write(
    `${file}\n  ${(total / 1e6).toFixed(1)} s sampled, ${((idle / total) * 100).toFixed(1)} % idle\n` +
      `by package:\n${top(byPkg, total, 15).join('\n')}\n\nby function:\n${top(byFn, total, TOP).join('\n')}\n\n`,
  );
}
