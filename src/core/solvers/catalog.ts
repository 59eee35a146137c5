/**
 * The forward solvers by name, without TensorFlow.js (the config schema and the extension read
 * it); `./index.ts` makes them. A new solver: implement `ForwardSolver`, add its name here and its
 * case to `makeSolver`.
 */
export const SOLVERS = {
  naive: 'the plain fixed-point iteration h ← F(h)',
  anderson: 'Anderson acceleration (type II) of the fixed-point iteration; the RBP family only',
} as const;

export type SolverName = keyof typeof SOLVERS;
export const SOLVER_NAMES = Object.keys(SOLVERS) as SolverName[];

export function isSolverName(s: string): s is SolverName {
  return Object.hasOwn(SOLVERS, s);
}
