/**
 * RBP Lab: the contract of a model module (`runner: ModuleRunner`, `model.module: ./my_model.mjs`).
 * Types only. In a JavaScript model file:
 *   // @ts-check
 *   /** @type {import('./rbp-model').ModelFactory} *\/
 *   export default function createModel({ tf, rbp, model, dataset, train, context }) { … }
 * The README's "Your own model" explains the rules (a pure `step`, the second-order-safe activations,
 * what the optional fast paths must satisfy).
 */
import type * as tfc from '@tensorflow/tfjs-core';

export type Tensor = tfc.Tensor;
export type Variable = tfc.Variable;
export type Scalar = tfc.Scalar;

/** A state (or adjoint, or parameter gradient): a list of tensors treated as one vector. */
export type State = Tensor[];

/** Which kind of step is asked for: a normal unrolled update, or the one RBP linearises at. */
export type StepPhase = 'unroll' | 'linearize';

/** The linear maps of F at one point: J = ∂F/∂h and ∂F/∂w. */
export interface Linearization {
  /** Jᵀ z */
  vjp(z: State): State;
  /** (∂F/∂w)ᵀ z */
  vjpParams(z: State): Tensor[];
  /** J v */
  jvp(v: State): State;
  /** Both Jᵀz and (∂F/∂w)ᵀ z from one pass. */
  vjpBoth(z: State): { h: State; w: Tensor[] };
  dispose(): void;
}

/** h_{t+1} = F(h_t, w) with a loss L(h, θ) on the final state. */
export interface DynamicSystem {
  readonly name: string;
  /** w: the parameters of F (the RBP-family methods approximate their gradient). */
  readonly params: Variable[];
  /** θ: parameters only the loss uses (a read-out); they get their exact gradient. May be empty. */
  readonly lossParams: Variable[];
  /** h_0 for the current batch; the caller disposes it. */
  initialState(): State;
  /**
   * h_{t+1} = F(h_t, w): a pure function of the `h` and `w` passed in (not the variables captured
   * elsewhere, no state kept between calls, no random numbers), written with tf operations and the
   * activations of `rbp.activations`.
   */
  step(h: State, w: Tensor[], t: number, phase: StepPhase): State;
  /** L(h, θ): a scalar. */
  loss(h: State, theta: Tensor[]): Scalar;
  /** Optional analytic linearisation of F at (h, w); must agree with autodiff of `step` to float32 precision (checked before training). */
  linearize?(h: State, w: Tensor[], t: number, phase: StepPhase): Linearization;
  /** Optional: Σ_i (∂F/∂w at h_i)ᵀ z_i over many steps in one go; must agree with the per-step sum (checked before training). */
  paramVjpMany?(hs: State[], zs: State[], ts: number[], phase: StepPhase): Tensor[];
}

/** Seeded random numbers (mulberry32). */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Standard normal. */
  normal(): number;
  int(n: number): number;
  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array;
  normalArray(n: number, scale?: number): Float32Array;
}

type Unary = (x: Tensor) => Tensor;

/**
 * Activations with correct second derivatives (tfjs's own tanh, sigmoid, exp and softmax have wrong
 * ones: CG-RBP's J v and Hessian-vector products need them right), and two losses.
 */
export interface Activations {
  tanh: Unary;
  sigmoid: Unary;
  exp: Unary;
  logSumExp: Unary;
  softmax(z: Tensor): Tensor;
  /** Mean cross-entropy of logits [N, C] against int32 labels [N] or one-hot targets [N, C]. */
  softmaxCrossEntropy(logits: Tensor, labels: Tensor): Scalar;
  /** Mean absolute error. */
  l1Loss(a: Tensor, b: Tensor): Scalar;
}

export interface ModelContext {
  /** Folder of the config file. */
  configDir: string;
  /** `dataset.path` resolved against the config's folder; else the run's data folder; else undefined. */
  dataDir?: string;
  /** The config's seed. */
  seed: number;
  /** Seeded with the config's seed. */
  rng: Rng;
  /** A line in the run's log. */
  log(text: string): void;
}

/** What the module's factory receives. */
export interface ModelFactoryArgs {
  /** The TensorFlow.js RBP Lab runs on (never import a second copy). */
  tf: typeof tfc;
  rbp: { activations: Activations; Rng: new (seed: number) => Rng };
  /** The config's `model:` section; your own keys under `model.params`. */
  model: Record<string, unknown> & { params: Record<string, unknown> };
  /** The config's `dataset:` section; your own keys under `dataset.params`. */
  dataset: Record<string, unknown> & { params: Record<string, unknown> };
  /** The config's `train:` section (batch_size, …); the optimiser is RBP Lab's. */
  train: Record<string, unknown>;
  context: ModelContext;
}

/** What the factory returns. */
export interface UserModel {
  system: DynamicSystem;
  /** Prepare optimisation step `step` (0-based): select its batch. */
  batch?(step: number): void;
  /** Steps per epoch (train.max_epoch and train.valid_epoch count epochs); default 1. */
  stepsPerEpoch?: number;
  /** Evaluation metrics, every train.valid_epoch epochs and at the end. */
  evaluate?(step: number): Record<string, number>;
  /** The metric names `evaluate` returns (checked when given). */
  metrics?: readonly string[];
  /** Final summary numbers merged into the run's record. */
  summary?(): Record<string, number | string | boolean>;
  /** Free what the model holds (RBP Lab frees its variables if this does not). */
  dispose?(): void;
}

/** The module's default export (or its `createModel` export). */
export type ModelFactory = (args: ModelFactoryArgs) => UserModel | Promise<UserModel>;
