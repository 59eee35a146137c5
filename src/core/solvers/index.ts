/** Forward-solver registry. A new solver: implement `ForwardSolver` and add it here. */
import { NaiveSolver } from './naive';
import { AndersonSolver, AndersonOptions } from './anderson';
import type { ForwardSolver } from './types';

export * from './types';
export { NaiveSolver, AndersonSolver };

export const SOLVERS = ['naive', 'anderson'] as const;
export type SolverName = (typeof SOLVERS)[number];

export function makeSolver(name: string, anderson?: Partial<AndersonOptions>): ForwardSolver {
  switch (name.toLowerCase()) {
    case 'naive':
      return new NaiveSolver();
    case 'anderson':
      return new AndersonSolver({ window: 5, beta: 1.0, lambda: 1e-8, ...anderson });
    default:
      throw new Error(`unknown forward solver '${name}' (known: ${SOLVERS.join(', ')})`);
  }
}
