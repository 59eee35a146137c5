/** Forward-solver registry: each name of `./catalog.ts` made into its solver. */
import { NaiveSolver } from './naive';
import { AndersonSolver, AndersonOptions, ANDERSON_DEFAULTS } from './anderson';
import { SOLVER_NAMES, isSolverName, type SolverName } from './catalog';
import type { ForwardSolver } from './types';

export * from './types';
export { NaiveSolver, AndersonSolver, SOLVER_NAMES, type SolverName };

const MAKE: Record<SolverName, (anderson?: Partial<AndersonOptions>) => ForwardSolver> = {
  naive: () => new NaiveSolver(),
  anderson: (o) => new AndersonSolver({ ...ANDERSON_DEFAULTS, ...o }),
};

export function makeSolver(name: string, anderson?: Partial<AndersonOptions>): ForwardSolver {
  const n = name.toLowerCase();
  if (!isSolverName(n)) throw new Error(`unknown forward solver '${name}' (known: ${SOLVER_NAMES.join(', ')})`);
  return MAKE[n](anderson);
}
