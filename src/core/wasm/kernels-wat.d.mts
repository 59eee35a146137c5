/** Types of ./kernels-wat.mjs (the generator runs at build time; tests read its table of elementwise kernels). */
export type Expr = string | number | [string, Expr, Expr];
export interface ElementwiseDef {
  name: string;
  ins: string[];
  outs: string[];
  scalars?: string[];
  body: [string, Expr][];
}
export const ELEMENTWISE: ElementwiseDef[];
export function kernelsWat(opts?: { relaxed?: boolean; shared?: boolean }): string;
