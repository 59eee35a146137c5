/** A residual per step as an SVG sparkline (log scale), for hovers. */

export interface SparklineOptions {
  width?: number;
  height?: number;
  /** A dashed reference line (e.g. the 1e-4 tolerance). */
  tol?: number;
  color?: string;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function expLabel(v: number): string {
  const e = Math.round(v);
  return `1e${e}`;
}

/**
 * An SVG sparkline of a residual per step on a log10 scale. Non-positive and null values are left
 * out (a gap), so a series that hits exact zero still draws. Undefined when nothing is drawable.
 */
export function sparklineSvg(values: readonly (number | null)[], opts: SparklineOptions = {}): string | undefined {
  const W = opts.width ?? 260;
  const H = opts.height ?? 70;
  const padL = 34;
  const padR = 6;
  const padT = 6;
  const padB = 14;
  const pts = values.map((v, i) => (v !== null && Number.isFinite(v) && v > 0 ? ([i, Math.log10(v)] as const) : undefined));
  const ok = pts.filter((p): p is readonly [number, number] => p !== undefined);
  if (!ok.length) return undefined;
  let lo = Math.min(...ok.map((p) => p[1]));
  let hi = Math.max(...ok.map((p) => p[1]));
  if (opts.tol && opts.tol > 0) {
    lo = Math.min(lo, Math.log10(opts.tol));
    hi = Math.max(hi, Math.log10(opts.tol));
  }
  lo = Math.floor(lo);
  hi = Math.ceil(hi);
  if (hi - lo < 1) hi = lo + 1;
  const n = Math.max(1, values.length - 1);
  const x = (i: number) => padL + ((W - padL - padR) * i) / n;
  const y = (l: number) => padT + ((H - padT - padB) * (hi - l)) / (hi - lo);
  const segs: string[] = [];
  let cur: string[] = [];
  for (const p of pts) {
    if (!p) {
      if (cur.length) segs.push(cur.join(' '));
      cur = [];
    } else cur.push(`${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`);
  }
  if (cur.length) segs.push(cur.join(' '));
  const color = opts.color ?? '#3794ff';
  const grey = '#8b8b8b';
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`,
    `<rect x="${padL}" y="${padT}" width="${W - padL - padR}" height="${H - padT - padB}" fill="none" stroke="${grey}" stroke-opacity="0.4"/>`,
    `<text x="${padL - 3}" y="${padT + 8}" font-family="sans-serif" font-size="9" fill="${grey}" text-anchor="end">${esc(expLabel(hi))}</text>`,
    `<text x="${padL - 3}" y="${H - padB}" font-family="sans-serif" font-size="9" fill="${grey}" text-anchor="end">${esc(expLabel(lo))}</text>`,
    `<text x="${padL}" y="${H - 3}" font-family="sans-serif" font-size="9" fill="${grey}">1</text>`,
    `<text x="${W - padR}" y="${H - 3}" font-family="sans-serif" font-size="9" fill="${grey}" text-anchor="end">${values.length}</text>`,
  ];
  if (opts.tol && opts.tol > 0) parts.push(`<line x1="${padL}" x2="${W - padR}" y1="${y(Math.log10(opts.tol)).toFixed(1)}" y2="${y(Math.log10(opts.tol)).toFixed(1)}" stroke="${grey}" stroke-dasharray="3,3"/>`);
  for (const s of segs) {
    if (s.includes(' ')) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${s}"/>`);
    else {
      const [cx, cy] = s.split(',');
      parts.push(`<circle cx="${cx}" cy="${cy}" r="1.5" fill="${color}"/>`);
    }
  }
  parts.push('</svg>');
  return parts.join('');
}

export function svgDataUri(svg: string): string {
  return `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`;
}
