/**
 * Where ρ(J) changes the verdict (no TensorFlow.js: the webview draws these bands and the extension
 * host names them). diagnostics.ts judges with the same numbers.
 */

/** At or above: not contractive — the Neumann series and RBP diverge, the verdict is 'bad'. */
export const RHO_NOT_CONTRACTIVE = 1;
/** From here to 1: contractive but near 1 — the Neumann series' error falls like ρ^K, slowly. */
export const RHO_NEAR_ONE = 0.9;

export type RhoBand = 'contractive' | 'near 1' | 'not contractive';

/** The band a ρ(J) estimate falls in (NaN: not contractive, as the verdict treats it). */
export function rhoBand(rho: number): RhoBand {
  if (!Number.isFinite(rho) || rho >= RHO_NOT_CONTRACTIVE) return 'not contractive';
  return rho >= RHO_NEAR_ONE ? 'near 1' : 'contractive';
}
