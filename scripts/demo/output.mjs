// Progress lines: seconds since the demo started, ▶ for a step, indented detail under it.
const T0 = Date.now();

/** Seconds since the demo started, as a fixed-width column. */
export const since = () => `${((Date.now() - T0) / 1000).toFixed(1).padStart(6)}s`;

/** Seconds since the demo started. */
export const elapsedS = () => (Date.now() - T0) / 1000;

/** A step of the demo. */
export function step(msg) {
  console.log(`${since()} ▶ ${msg}`);
}

/** A detail line under the current step. */
export function info(msg) {
  console.log(`${since()}   ${msg}`);
}

/** Ends the demo before anything was started. */
export function die(msg) {
  console.error(`✖ ${msg}`);
  process.exit(1);
}

/** ISO-8601 without milliseconds. */
export const iso = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');

/** HH:MM (UTC) of an instant. */
export const hhmm = (ms) => iso(ms).slice(11, 16);
