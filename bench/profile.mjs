// Summarizes V8 .cpuprofile files (BENCH_CPU_PROF=1 npm run bench:ingest, or
// BENCH_NODE_ARGS=--cpu-prof npm run bench:aggregator, or any `node --cpu-prof`): self time by
// package and by function, as shares of the busy (non-idle) CPU time sampled. Absolute times on a
// loaded machine say little; shares say what the process spends its work on.
// Usage: node bench/profile.mjs [--top N] [--callers NAME] <file.cpuprofile>...
//   --callers NAME: also where the self time of functions named NAME comes from (two levels of
//   callers), e.g. --callers FastBuffer for Buffer allocations.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
/** Removes `--name value` from the arguments and returns the value. */
const option = (name) => {
  const at = args.indexOf(name);
  return at >= 0 ? args.splice(at, 2)[1] : undefined;
};
const TOP = Number(option('--top') ?? 25);
const CALLERS = option('--callers');

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

/** `name file:line` of a profile node. */
function frame(node) {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url
    .replace(/^.*node_modules\//, '')
    .replace(/^file:\/\//, '')
    .replace(ROOT, '');
  return `${functionName || '(anon)'} ${where}:${lineNumber}`;
}

/** Self time (µs) by function, by origin and (with --callers) by caller in one profile. */
function selfTimes(file) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const dt = new Map();
  for (let i = 0; i < prof.samples.length; i++)
    dt.set(prof.samples[i], (dt.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0));
  const parent = new Map();
  for (const node of prof.nodes) for (const c of node.children ?? []) parent.set(c, node);
  const add = (m, k, t) => m.set(k, (m.get(k) ?? 0) + t);
  const byFn = new Map();
  const byPkg = new Map();
  const byCaller = new Map();
  let idle = 0;
  for (const node of prof.nodes) {
    const t = dt.get(node.id) ?? 0;
    const { functionName, url } = node.callFrame;
    if (!t) continue;
    if (functionName === '(idle)') {
      idle += t;
      continue;
    }
    add(byFn, frame(node), t);
    add(byPkg, origin(url, functionName), t);
    if (functionName === CALLERS) {
      const p1 = parent.get(node.id);
      const p2 = p1 && parent.get(p1.id);
      add(byCaller, `${p1 ? frame(p1) : '?'}  ←  ${p2 ? frame(p2) : '?'}`, t);
    }
  }
  const total = [...dt.values()].reduce((a, b) => a + b, 0);
  return { byFn, byPkg, byCaller, total, idle };
}

const top = (m, busy, n) =>
  [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${((v / busy) * 100).toFixed(1).padStart(5)} %  ${k}`);

for (const file of args) {
  const { byFn, byPkg, byCaller, total, idle } = selfTimes(file);
  const busy = total - idle;
  process.stdout.write(
    `${file}\n  ${(total / 1e6).toFixed(1)} s sampled, ${((idle / total) * 100).toFixed(1)} % idle; shares of the busy time\n` +
      `by package:\n${top(byPkg, busy, 15).join('\n')}\n\nby function:\n${top(byFn, busy, TOP).join('\n')}\n` +
      (CALLERS ? `\n${CALLERS} called from:\n${top(byCaller, busy, 12).join('\n')}\n` : '') +
      '\n',
  );
}
