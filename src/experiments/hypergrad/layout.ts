/**
 * The packed parameter vector of the hypergradient MLP: where each θ_i (W₁, b₁, ..., W_L, b_L)
 * sits in Θ, and packing / unpacking (differentiable to any order).
 */
import { tf, Tensor } from '../../core/tf';
import type { FusedLayout } from './fused';

/**
 * Where each parameter tensor θ_i lives in the packed vector Θ = (vec W₁, b₁, ..., vec W_L, b_L)
 * (row-major; the state is h = (Θ, M), M the momenta, packed the same way).
 */
export interface Layout extends FusedLayout {
  /** Shape of θ_i: [in, out] for a weight, [out] for a bias. */
  shapes: number[][];
  /** Start of θ_i in Θ; offsets[P] = N. */
  offsets: number[];
  N: number;
  /** Number of layers (P = 2L tensors). */
  L: number;
}

export function makeLayout(sizes: number[]): Layout {
  const shapes: number[][] = [];
  for (let l = 0; l + 1 < sizes.length; l++) shapes.push([sizes[l], sizes[l + 1]], [sizes[l + 1]]);
  const offsets = [0];
  for (const sh of shapes) offsets.push(offsets[offsets.length - 1] + sh.reduce((a, b) => a * b, 1));
  return { sizes, shapes, offsets, N: offsets[shapes.length], L: shapes.length / 2 };
}

/** The parameter tensors θ_i of a packed vector, by slices (differentiable to any order). */
export function unpackTheta(flat: Tensor, layout: Layout): Tensor[] {
  return layout.shapes.map((sh, i) => tf.reshape(tf.slice(flat, layout.offsets[i], layout.offsets[i + 1] - layout.offsets[i]), sh));
}

/** Pack tensors θ_i into one vector (differentiable). */
export function packTheta(xs: Tensor[]): Tensor {
  return tf.concat(xs.map((x) => tf.reshape(x, [-1])));
}
