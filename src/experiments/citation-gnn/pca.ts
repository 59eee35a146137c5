/**
 * PCA of a node-feature matrix (the authors reduced the bag-of-words features with sklearn's PCA).
 *
 * Randomized subspace iteration (Halko, Martinsson & Tropp 2011, as in sklearn's randomized solver):
 * Q ← orth(Xcᵀ Xc Q) a few times, then Rayleigh–Ritz on span(Q). Xc = X − 1μᵀ is never formed:
 * X is kept in CSR form (bag-of-words features are ~1% dense) and the mean is subtracted in the
 * products, so one iteration costs O(nnz·l + F·l²) with l = k + oversampling.
 */
import { Rng } from '../../core/random';
import { toCsr, type CsrMatrix } from '../../core/sparse';

export interface PcaResult {
  /** N × k, row-major: (X − μ) projected on the components. */
  projected: Float32Array;
  /** k × F, row-major, orthonormal rows, sorted by decreasing variance. */
  components: Float64Array;
  /** Variance along each component (eigenvalues of the covariance, denominator N − 1, like sklearn). */
  explainedVariance: Float64Array;
  /** explainedVariance / total variance. */
  explainedVarianceRatio: Float64Array;
  mean: Float64Array;
  k: number;
}

export interface PcaOptions {
  /** Subspace iterations (default 7, sklearn's choice for small k). */
  iterations?: number;
  /** Extra basis vectors beyond k (default 10). */
  oversample?: number;
}

/** Y (N×l) = (X − 1μᵀ) Q, Q given as F×l row-major. */
function mulXc(X: CsrMatrix, mean: Float64Array, Q: Float64Array, N: number, F: number, l: number): Float64Array {
  const Y = new Float64Array(N * l);
  const muQ = new Float64Array(l);
  for (let c = 0; c < F; c++) {
    const m = mean[c];
    if (m === 0) continue;
    for (let j = 0; j < l; j++) muQ[j] += m * Q[c * l + j];
  }
  for (let r = 0; r < N; r++) {
    const yo = r * l;
    for (let p = X.ptr[r]; p < X.ptr[r + 1]; p++) {
      const v = X.val[p];
      const qo = X.col[p] * l;
      for (let j = 0; j < l; j++) Y[yo + j] += v * Q[qo + j];
    }
    for (let j = 0; j < l; j++) Y[yo + j] -= muQ[j];
  }
  return Y;
}

/** Z (F×l) = (X − 1μᵀ)ᵀ Y, Y given as N×l row-major. */
function mulXcT(X: CsrMatrix, mean: Float64Array, Y: Float64Array, N: number, F: number, l: number): Float64Array {
  const Z = new Float64Array(F * l);
  const colSum = new Float64Array(l);
  for (let r = 0; r < N; r++) {
    const yo = r * l;
    for (let j = 0; j < l; j++) colSum[j] += Y[yo + j];
    for (let p = X.ptr[r]; p < X.ptr[r + 1]; p++) {
      const v = X.val[p];
      const zo = X.col[p] * l;
      for (let j = 0; j < l; j++) Z[zo + j] += v * Y[yo + j];
    }
  }
  for (let c = 0; c < F; c++) {
    const m = mean[c];
    if (m === 0) continue;
    for (let j = 0; j < l; j++) Z[c * l + j] -= m * colSum[j];
  }
  return Z;
}

/**
 * Orthonormalise the l columns of A (F×l row-major) in place: modified Gram–Schmidt, done twice
 * for stability. A column that vanishes is replaced by a fresh random direction.
 */
function orthonormalizeColumns(A: Float64Array, F: number, l: number, rng: Rng): void {
  // Work on contiguous vectors.
  const V = new Float64Array(l * F);
  for (let c = 0; c < F; c++) for (let j = 0; j < l; j++) V[j * F + c] = A[c * l + j];
  for (let j = 0; j < l; j++) {
    const vj = V.subarray(j * F, (j + 1) * F);
    for (let attempt = 0; ; attempt++) {
      const before = Math.sqrt(dot(vj, vj, F));
      for (let pass = 0; pass < 2; pass++) {
        for (let i = 0; i < j; i++) {
          const vi = V.subarray(i * F, (i + 1) * F);
          const d = dot(vi, vj, F);
          for (let c = 0; c < F; c++) vj[c] -= d * vi[c];
        }
      }
      const norm = Math.sqrt(dot(vj, vj, F));
      if (norm > 1e-10 * Math.max(before, 1e-300) && norm > 0) {
        for (let c = 0; c < F; c++) vj[c] /= norm;
        break;
      }
      if (attempt > 5) throw new Error(`pca: could not find ${l} independent directions in ${F} dimensions`);
      for (let c = 0; c < F; c++) vj[c] = rng.normal();
    }
  }
  for (let c = 0; c < F; c++) for (let j = 0; j < l; j++) A[c * l + j] = V[j * F + c];
}

function dot(a: Float64Array, b: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

/** Eigen-decomposition of a symmetric n×n matrix (cyclic Jacobi). Returns values descending, vectors as columns. */
export function symmetricEigen(Ain: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const A = Float64Array.from(Ain);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += A[i] * A[i];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += A[i * n + j] * A[i * n + j];
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const app = A[p * n + p];
        const aqq = A[q * n + q];
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p];
          const akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k];
          const aqk = A[q * n + k];
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p];
          const vkq = V[k * n + q];
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => A[b * n + b] - A[a * n + a]);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dstCol) => {
    values[dstCol] = A[src * n + src];
    for (let r = 0; r < n; r++) vectors[r * n + dstCol] = V[r * n + src];
  });
  return { values, vectors };
}

/**
 * Project centred features (N × F, row-major) onto their top-k principal components.
 * Deterministic for a given seed.
 */
export function pcaReduce(features: Float32Array, N: number, F: number, k: number, seed = 0, opts: PcaOptions = {}): PcaResult {
  if (features.length !== N * F) throw new Error(`pca: features has ${features.length} values, expected ${N}×${F}`);
  if (!(Number.isInteger(k) && k >= 1 && k <= Math.min(N, F))) throw new Error(`pca: k must be an integer in [1, ${Math.min(N, F)}], got ${k}`);
  const iterations = opts.iterations ?? 7;
  const l = Math.min(F, N, k + (opts.oversample ?? 10));
  const rng = new Rng(seed);

  const mean = new Float64Array(F);
  for (let r = 0; r < N; r++) for (let c = 0; c < F; c++) mean[c] += features[r * F + c];
  for (let c = 0; c < F; c++) mean[c] /= N;
  let totalVar = 0;
  {
    const sq = new Float64Array(F);
    for (let r = 0; r < N; r++) {
      for (let c = 0; c < F; c++) {
        const d = features[r * F + c] - mean[c];
        sq[c] += d * d;
      }
    }
    for (let c = 0; c < F; c++) totalVar += sq[c];
    totalVar /= Math.max(1, N - 1);
  }
  const X = toCsr(features, N, F);

  let Q: Float64Array = new Float64Array(F * l);
  for (let i = 0; i < Q.length; i++) Q[i] = rng.normal();
  orthonormalizeColumns(Q, F, l, rng);
  for (let it = 0; it < iterations; it++) {
    Q = mulXcT(X, mean, mulXc(X, mean, Q, N, F, l), N, F, l);
    orthonormalizeColumns(Q, F, l, rng);
  }

  // Rayleigh–Ritz: B = Xc Q, C = BᵀB / (N − 1), C = V Λ Vᵀ.
  const B = mulXc(X, mean, Q, N, F, l);
  const Cm = new Float64Array(l * l);
  for (let r = 0; r < N; r++) {
    const bo = r * l;
    for (let i = 0; i < l; i++) {
      const bi = B[bo + i];
      if (bi === 0) continue;
      for (let j = i; j < l; j++) Cm[i * l + j] += bi * B[bo + j];
    }
  }
  const denom = Math.max(1, N - 1);
  for (let i = 0; i < l; i++) {
    for (let j = i; j < l; j++) {
      Cm[i * l + j] /= denom;
      Cm[j * l + i] = Cm[i * l + j];
    }
  }
  const { values, vectors } = symmetricEigen(Cm, l);

  const components = new Float64Array(k * F);
  const flip = new Float64Array(k);
  for (let m = 0; m < k; m++) {
    const out = components.subarray(m * F, (m + 1) * F);
    for (let c = 0; c < F; c++) {
      let s = 0;
      for (let j = 0; j < l; j++) s += Q[c * l + j] * vectors[j * l + m];
      out[c] = s;
    }
    // Deterministic sign: the largest-magnitude loading is positive.
    let big = 0;
    for (let c = 0; c < F; c++) if (Math.abs(out[c]) > Math.abs(big)) big = out[c];
    flip[m] = big < 0 ? -1 : 1;
    if (big < 0) for (let c = 0; c < F; c++) out[c] = -out[c];
  }
  const projected = new Float32Array(N * k);
  for (let r = 0; r < N; r++) {
    for (let m = 0; m < k; m++) {
      let s = 0;
      for (let j = 0; j < l; j++) s += B[r * l + j] * vectors[j * l + m];
      projected[r * k + m] = s * flip[m];
    }
  }
  const explainedVariance = Float64Array.from(values.subarray(0, k), (v) => Math.max(0, v));
  const explainedVarianceRatio = Float64Array.from(explainedVariance, (v) => (totalVar > 0 ? v / totalVar : 0));
  return { projected, components, explainedVariance, explainedVarianceRatio, mean, k };
}
