/**
 * Tick spacing on log axes. Chart.js puts the axis' own min and max beside the nice values on a
 * logarithmic axis; when a bound lies just next to a nice tick (min 1.28 beside 1.3) the two labels
 * print on top of each other. Pure (no Chart.js, no DOM), so a node test holds it.
 */

/**
 * `ticks` in ascending value on an axis `heightPx` tall: the first or last tick (a bound) is dropped
 * where it would print within `minPx` of its neighbour; the nice ticks between stay.
 */
export function spaceLogTicks<T extends { value: number }>(ticks: T[], heightPx: number, minPx = 14): T[] {
  if (ticks.length < 3 || !(heightPx > 0)) return ticks;
  const lg = (t: T) => Math.log10(t.value);
  const span = lg(ticks[ticks.length - 1]) - lg(ticks[0]);
  if (!(span > 0)) return ticks;
  const gap = (a: T, b: T) => ((lg(b) - lg(a)) / span) * heightPx;
  let out = ticks;
  if (gap(out[0], out[1]) < minPx) out = out.slice(1);
  if (out.length >= 3 && gap(out[out.length - 2], out[out.length - 1]) < minPx) out = out.slice(0, -1);
  return out;
}
