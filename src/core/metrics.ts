/** Gradient comparison metrics, in float64 on the host. */
import type { Tensor } from './tf';
import { toArray } from './state';

export interface Comparison {
  relErr: number;
  cosine: number;
}

export function compareArrays(a: ArrayLike<number>, ref: ArrayLike<number>): Comparison {
  let d = 0;
  let r = 0;
  let aa = 0;
  let ar = 0;
  for (let i = 0; i < ref.length; i++) {
    const x = a[i];
    const y = ref[i];
    d += (x - y) * (x - y);
    r += y * y;
    aa += x * x;
    ar += x * y;
  }
  const relErr = r > 0 ? Math.sqrt(d / r) : Math.sqrt(d);
  const cosine = aa > 0 && r > 0 ? ar / Math.sqrt(aa * r) : aa === 0 && r === 0 ? 1 : 0;
  return { relErr, cosine };
}

/** ||a − ref|| / ||ref|| and cos(a, ref) over all tensors of the lists, flattened together. */
export function compareGrads(a: Tensor[], ref: Tensor[]): Comparison {
  return compareArrays(toArray(a), toArray(ref));
}

export function l2(a: Tensor[]): number {
  const v = toArray(a);
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}
