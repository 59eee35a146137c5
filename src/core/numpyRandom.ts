/**
 * numpy's legacy `numpy.random.RandomState(seed)` — MT19937 — for the draws the paper's authors make
 * with it, so that RBP Lab draws the same numbers: the Cora split (`RandomState(1234).permutation`)
 * and the Hopfield corruption masks. Only what those need: integer seeding, raw 32-bit outputs,
 * the legacy bounded-integer draw and `permutation`. No tfjs.
 *
 * - Seeding with an integer (numpy's `_legacy_seeding` → `mt19937_seed`) is Matsumoto–Nishimura's
 *   `init_genrand`: key[0] = s, key[i] = 1812433253 · (key[i−1] ⊕ (key[i−1] ≫ 30)) + i (mod 2³²).
 * - A bounded draw in [0, max] (numpy's `random_interval`, and legacy `randint` for ranges below
 *   2³²): the smallest all-ones mask ≥ max, then 32-bit outputs & mask until one is ≤ max.
 * - `permutation(n)` shuffles arange(n) from the end: for i = n−1 … 1, swap i with a draw in [0, i].
 */

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER = 0x80000000;
const LOWER = 0x7fffffff;

export class NumpyRandomState {
  private readonly mt = new Uint32Array(N);
  private pos = N;

  constructor(seed: number) {
    if (!(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff)) throw new RangeError(`seed must be an integer in [0, 2**32 - 1] (numpy's rule); got ${seed}`);
    this.mt[0] = seed;
    for (let i = 1; i < N; i++) {
      const p = this.mt[i - 1] ^ (this.mt[i - 1] >>> 30);
      this.mt[i] = Math.imul(1812433253, p) + i;
    }
  }

  /** The generator's whole state (the 624 words and the position), for checkpoints: `setState(getState())` continues the same sequence. */
  getState(): { mt: number[]; pos: number } {
    return { mt: Array.from(this.mt), pos: this.pos };
  }
  setState(s: { mt: number[]; pos: number }): void {
    if (!Array.isArray(s.mt) || s.mt.length !== N || !s.mt.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff) || !(Number.isInteger(s.pos) && s.pos >= 0 && s.pos <= N)) {
      throw new RangeError(`a NumpyRandomState state is ${N} 32-bit words and a position in [0, ${N}]`);
    }
    this.mt.set(s.mt);
    this.pos = s.pos;
  }

  private twist(): void {
    const mt = this.mt;
    for (let k = 0; k < N; k++) {
      const y = (mt[k] & UPPER) | (mt[(k + 1) % N] & LOWER);
      mt[k] = mt[(k + M) % N] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    this.pos = 0;
  }

  /** The next raw 32-bit output (numpy: `randint(0, 2**32, dtype=np.uint64)` draws these). */
  nextUint32(): number {
    if (this.pos >= N) this.twist();
    let y = this.mt[this.pos++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A uniform integer in [0, max] by masked rejection (numpy's legacy `random_interval`); max < 2³². */
  interval(max: number): number {
    if (!(Number.isInteger(max) && max >= 0 && max <= 0xffffffff)) throw new RangeError(`interval: max must be an integer in [0, 2**32 - 1]; got ${max}`);
    if (max === 0) return 0;
    let mask = max;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    mask >>>= 0;
    for (;;) {
      const v = (this.nextUint32() & mask) >>> 0;
      if (v <= max) return v;
    }
  }

  /** numpy's legacy `randint(0, high)` for high ≤ 2³² (the same draw as `interval(high − 1)`). */
  randint(high: number): number {
    if (!(high >= 1)) throw new RangeError(`randint: high must be ≥ 1; got ${high}`);
    return this.interval(high - 1);
  }

  /** numpy's legacy `permutation(n)`: arange(n) shuffled from the end. */
  permutation(n: number): Int32Array {
    const p = Int32Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.interval(i);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}
