/**
 * Three small JS kernels for the hypergrad fast path (untaped forward values only, no gradients),
 * registered for the `cpu` and `wasm` backends, with a fallback built from ops for any other (and
 * for the tests, which check one against the other):
 *
 * - `HypergradBlocks`: cut blocks out of a flat vector (the packed θ or an adjoint), each reshaped,
 *   optionally transposed. On wasm a `tf.slice` first copies the whole source out of the heap
 *   (~60-100 µs for 44,860 floats per slice); this is one memcpy-like kernel for all pieces (~7 µs).
 * - `HypergradPack`: the inverse, per-layer gradient blocks into the flat layout (31 µs vs ~100 µs
 *   for reshapes, a pad, adds and a concat).
 * - `HypergradSegmentDot`: c_i Σ_{j ∈ segment i} a_j b_j, the per-tensor inner products of the
 *   hyperparameter gradient, in one pass instead of a product, a split and 8 sums.
 *
 * Measured (wasm, Node 20): a JS loop costs 1-5 ns an element, a wasm elementwise op ~5 µs plus
 * ~0.3 ns an element; so JS kernels pay only for copies and for replacing many ops. Fusing the
 * MLP's elementwise chains (tanh layer, R-op steps) into JS kernels was tried and was slower; on
 * wasm they are fused into the SIMD kernels of `./fused`, which replace this op path there.
 */
import { tf, Tensor } from '../../core/tf';
import { produce, produceMany, sizeOf, view, type KernelArgs } from '../../core/kernelViews';

type TensorInfo = tf.TensorInfo;

export interface BlockSpec {
  offset: number;
  /** Shape of the block in the flat vector (row-major): [n] or [rows, cols]. */
  shape: number[];
  /** Return the [cols, rows] transpose of a 2-D block. */
  transpose?: boolean;
}

const BLOCKS = 'HypergradBlocks';
const SEGDOT = 'HypergradSegmentDot';
const BACKENDS = ['cpu', 'wasm'];

const outShape = (s: BlockSpec) => (s.transpose && s.shape.length === 2 ? [s.shape[1], s.shape[0]] : s.shape);

function fillBlock(src: Float32Array, s: BlockSpec, out: Float32Array): void {
  if (s.transpose && s.shape.length === 2) {
    const [r, c] = s.shape;
    for (let i = 0; i < r; i++) {
      const base = s.offset + i * c;
      for (let j = 0; j < c; j++) out[j * r + i] = src[base + j];
    }
  } else {
    out.set(src.subarray(s.offset, s.offset + sizeOf(s.shape)));
  }
}

function blocksKernel(args: KernelArgs): TensorInfo[] {
  const x = args.inputs.x;
  const specs = (args.attrs as { specs: BlockSpec[] }).specs;
  return produceMany(
    args.backend,
    specs.map((s) => ({ shape: outShape(s), dtype: 'float32' })),
    false,
    (outs) => {
      const src = view(args.backend, x) as Float32Array;
      specs.forEach((s, i) => fillBlock(src, s, outs[i] as Float32Array));
    },
  );
}

/** Σ_{lo ≤ j < hi} a_j b_j, four accumulators (~1 ns an element in V8). */
function dot(a: Float32Array, b: Float32Array, lo: number, hi: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = lo;
  for (; j + 3 < hi; j += 4) {
    s0 += a[j] * b[j];
    s1 += a[j + 1] * b[j + 1];
    s2 += a[j + 2] * b[j + 2];
    s3 += a[j + 3] * b[j + 3];
  }
  for (; j < hi; j++) s0 += a[j] * b[j];
  return s0 + s1 + s2 + s3;
}

function segDotKernel(args: KernelArgs): TensorInfo {
  const { a, b } = args.inputs;
  const { offsets, coef } = args.attrs as { offsets: number[]; coef: number[] };
  const P = coef.length;
  return produce(args.backend, [P], 'float32', false, (out) => {
    const av = view(args.backend, a) as Float32Array;
    const bv = view(args.backend, b) as Float32Array;
    for (let i = 0; i < P; i++) out[i] = dot(av, bv, offsets[i], offsets[i + 1]) * coef[i];
  });
}

let registered = false;
function ensureRegistered(): void {
  if (registered) return;
  for (const backendName of BACKENDS) {
    if (!tf.getKernel(BLOCKS, backendName)) tf.registerKernel({ kernelName: BLOCKS, backendName, kernelFunc: blocksKernel as unknown as tf.KernelFunc });
    if (!tf.getKernel(SEGDOT, backendName)) tf.registerKernel({ kernelName: SEGDOT, backendName, kernelFunc: segDotKernel as unknown as tf.KernelFunc });
  }
  registered = true;
}

/** Whether the JS kernels serve the current backend (else the op fallbacks run). */
export function jsKernelsAvailable(): boolean {
  return BACKENDS.includes(tf.getBackend());
}

type RunKernel = (name: string, inputs: Record<string, Tensor>, attrs: Record<string, unknown>) => Tensor | Tensor[];
const runKernel: RunKernel = (name, inputs, attrs) => (tf.engine() as unknown as { runKernel: RunKernel }).runKernel(name, inputs, attrs);

/** The blocks of a flat vector (untaped use only: no gradient is registered for the kernel). */
export function blocks(flat: Tensor, specs: BlockSpec[], useKernels = true): Tensor[] {
  if (useKernels && jsKernelsAvailable()) {
    ensureRegistered();
    const r = runKernel(BLOCKS, { x: flat }, { specs });
    return Array.isArray(r) ? r : [r];
  }
  return specs.map((s) =>
    tf.tidy(() => {
      const t = tf.reshape(tf.slice(flat, s.offset, sizeOf(s.shape)), s.shape);
      return s.transpose && s.shape.length === 2 ? tf.transpose(t) : t;
    }),
  );
}

/** [c_i Σ_{offsets[i] ≤ j < offsets[i+1]} a_j b_j]_i for flat a, b (untaped use only). */
export function segmentDot(a: Tensor, b: Tensor, offsets: number[], coef: number[], useKernels = true): Tensor {
  if (useKernels && jsKernelsAvailable()) {
    ensureRegistered();
    return runKernel(SEGDOT, { a, b }, { offsets, coef }) as Tensor;
  }
  return tf.tidy(() => {
    const prod = tf.mul(a, b);
    const sizes = coef.map((_, i) => offsets[i + 1] - offsets[i]);
    return tf.mul(tf.stack(tf.split(prod, sizes).map((p) => tf.sum(p))), tf.tensor1d(coef));
  });
}

/**
 * A JS kernel over zero-copy views: `shapes` gives the output shapes from the input shapes, `fill`
 * writes the outputs from zero-copy views of the inputs (JS, ~1 ns an element), and `reference`
 * is the same computation in tfjs ops (other backends; and the tests' reference).
 */
interface FusedDef {
  name: string;
  shapes(inShapes: number[][], attrs: Record<string, unknown>): number[][];
  fill(ins: Float32Array[], outs: Float32Array[], inShapes: number[][], attrs: Record<string, unknown>): void;
  reference(ins: Tensor[], attrs: Record<string, unknown>): Tensor[];
}

function fusedKernel(def: FusedDef): (args: KernelArgs) => TensorInfo[] {
  return (args) => {
    const n = (args.attrs as { n: number }).n;
    const ins = Array.from({ length: n }, (_, i) => args.inputs[`i${i}`]);
    const inShapes = ins.map((t) => t.shape);
    const shapes = def.shapes(inShapes, args.attrs ?? {});
    return produceMany(
      args.backend,
      shapes.map((shape) => ({ shape, dtype: 'float32' })),
      false,
      (outs) =>
        def.fill(
          ins.map((t) => view(args.backend, t) as Float32Array),
          outs as Float32Array[],
          inShapes,
          args.attrs ?? {},
        ),
    );
  };
}

const fusedRegistered = new Set<string>();
function runFused(def: FusedDef, ins: Tensor[], attrs: Record<string, unknown>, useKernels: boolean): Tensor[] {
  if (!(useKernels && jsKernelsAvailable())) return def.reference(ins, attrs);
  if (!fusedRegistered.has(def.name)) {
    for (const backendName of BACKENDS) {
      if (!tf.getKernel(def.name, backendName)) tf.registerKernel({ kernelName: def.name, backendName, kernelFunc: fusedKernel(def) as unknown as tf.KernelFunc });
    }
    fusedRegistered.add(def.name);
  }
  const inputs: Record<string, Tensor> = {};
  ins.forEach((t, i) => (inputs[`i${i}`] = t));
  const r = runKernel(def.name, inputs, { ...attrs, n: ins.length });
  return Array.isArray(r) ? r : [r];
}

/**
 * Pack per-layer pieces into the flat θ layout: G_l = [∂W_l; ∂b_l] as one [(in + 1), out] block
 * each (l = 1..L, their row-major order is the layout's), plus H_l [in, out] added to the weight
 * part for the layers listed in attr `withH` (inputs: G_1..G_L, then the H_l in order).
 */
const PACK: FusedDef = {
  name: 'HypergradPack',
  shapes: (inShapes, attrs) => [[(attrs.withH as boolean[]).reduce((s, _, l) => s + sizeOf(inShapes[l]), 0)]],
  fill: (ins, [out], _shapes, attrs) => {
    const withH = attrs.withH as boolean[];
    const L = withH.length;
    let o = 0;
    let h = L;
    for (let l = 0; l < L; l++) {
      const g = ins[l];
      out.set(g, o);
      if (withH[l]) {
        const H = ins[h++];
        for (let j = 0; j < H.length; j++) out[o + j] = g[j] + H[j];
      }
      o += g.length;
    }
  },
  reference: (ins, attrs) => {
    const withH = attrs.withH as boolean[];
    let h = withH.length;
    const parts = withH.map((w, l) => {
      const g = ins[l];
      if (!w) return tf.reshape(g, [-1]);
      const H = ins[h++];
      return tf.reshape(tf.add(g, tf.pad(H, [
        [0, 1],
        [0, 0],
      ])), [-1]);
    });
    return [tf.concat(parts)];
  },
};
export const packLayers = (G: Tensor[], H: (Tensor | undefined)[], useKernels: boolean) =>
  runFused(PACK, [...G, ...G.flatMap((_, l) => (H[l] ? [H[l]!] : []))], { withH: G.map((_, l) => !!H[l]) }, useKernels)[0];
