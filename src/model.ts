/**
 * RBP Lab: the contract of a model module (`runner: ModuleRunner`, `model.module: ./my_model.mjs`).
 * Types only, generated from RBP Lab's src/model.ts by `npm run build` (dist/types/model.d.ts: the
 * package's `rbp-lab/model`, and the template's rbp-model.d.ts). In a JavaScript model file:
 *   // @ts-check
 *   /** @type {import('./rbp-model').ModelFactory} *\/
 *   export default function createModel({ tf, rbp, model, dataset, train, context }) { … }
 * The README's "Your own model" explains the rules (a pure `step`, the second-order-safe activations,
 * what the optional fast paths must satisfy).
 */
import type * as tfc from '@tensorflow/tfjs-core';
import type * as activations from './core/activations';
import type { RngLike } from './experiments/module/contract';

export type Tensor = tfc.Tensor;
export type Variable = tfc.Variable;
export type Scalar = tfc.Scalar;
export type { State } from './core/state';
export type { DynamicSystem, Linearization, StepPhase } from './core/system';
export type { ModelFactory, ModelFactoryArgs, ModelContext, UserModel } from './experiments/module/contract';
/** Seeded random numbers (mulberry32). */
export type Rng = RngLike;
/** Activations with correct second derivatives (tfjs's own tanh, sigmoid, exp and softmax have wrong ones), and two losses. */
export type Activations = typeof activations;
