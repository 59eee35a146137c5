/** Number formatting for messages, tables and inline notes (no TensorFlow import: the extension host uses it). */

/** Two significant decimals; exponent form below 1e-2 and from 1e4 (so 0.004 never prints as "0.00"); 0 as "0". */
export function fmt(x: number, digits = 2): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  if (Math.abs(x) < 1e-2 || Math.abs(x) >= 1e4) return x.toExponential(digits - 1);
  return x.toFixed(digits);
}

/** ρ with enough digits that a value just above or below 1 never prints as "1.00". */
export function fmtRho(rho: number): string {
  if (!Number.isFinite(rho)) return String(rho);
  for (let d = 2; d <= 6; d++) {
    const s = rho.toFixed(d);
    if (Number(s) !== 1 || rho === 1) return s;
  }
  return rho.toFixed(6);
}

/**
 * Text safe to print on a terminal: every control character but tab and newline (C0, DEL, C1 —
 * U+009B is a CSI on many terminals) and the bidirectional overrides become `\uXXXX`. The result
 * is still valid JSON where the input was (these characters only occur inside JSON strings), so
 * one function guards both the CLI's messages and its `--json` lines.
 */
export function escapeControl(s: string): string {
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
