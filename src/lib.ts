/**
 * RBP Lab as a library (`import { … } from 'rbp-lab'`, dist/lib.js): the forward solvers and the
 * gradient methods for any `DynamicSystem`, without VS Code or the CLI. examples/library.mjs shows
 * a model of its own, its fixed point, ρ(J) and every method's gradient against `exact`.
 */
export { tf } from './core/tf';
export type { Tensor, Scalar } from './core/tf';
export { selectBackend, describeChoice, type BackendName, type BackendRequest, type BackendChoice } from './core/backend';
export { genericLinearization, linearize, lossGradients, paramVjpMany, gradsOf, type DynamicSystem, type Linearization, type StepPhase } from './core/system';
export type { State } from './core/state';
export { getMethod, registerMethod, methods, methodNames, methodInfo, parseMethodName, takesK, type MethodName, type MethodInfo, type GradientOptions, type GradientResult, type GradientMethod } from './core/gradients';
export { NaiveSolver, AndersonSolver, makeSolver, SOLVER_NAMES, type SolverName, type ForwardSolver, type SolveOptions, type SolveResult } from './core/solvers';
export { spectralRadius, verdict } from './core/diagnostics';
export { compareGrads, l2 } from './core/metrics';
export { Rng } from './core/random';
export * as activations from './core/activations';
export type { ModelFactory, ModelFactoryArgs, ModelContext, UserModel } from './experiments/module/contract';
