/**
 * The Hopfield step in one dispatch around one wasm kernel (`stream_dot` in
 * src/core/wasm/kernels-wat.mjs): out = ((σ(b·X)·Wᵀ) + c·h) ⊙ mask + clamp, each part optional.
 *
 * Why: a step reads W_s (2592², 25.6 MiB) once for a batch of one image, so it runs at the speed
 * the memory delivers W_s. tfjs's product (XNNPACK's GEMV over its packed copy of W_s) reached
 * ~0.75 of the speed of a plain streaming read of the same bytes; `stream_dot` reads each row of
 * W_s as one stream into four SIMD accumulators, as fast as that read, with no packed copy
 * (bench/README.md, "Bandwidth"). One dispatch instead of five a step. W_s is symmetric, so s·W_s = s·W_sᵀ.
 *
 * Off the wasm backend, with the wasm kernels off, or under a gradient tape, the same expression
 * is computed with tf ops (no gradient is registered for the kernel).
 */
import { tf, Tensor, isTaped } from '../../core/tf';
import { wasmKernels, offsetOf, orRelease, type WasmBackendLike } from '../../core/wasm/module';
import type { KernelArgs } from '../../core/kernelViews';

type TensorInfo = tf.TensorInfo;

export const STREAM_DOT = 'RbpStreamDot';

/**
 * Options: `sigmoidOf` b: the product takes σ(b·x) in place of x (the step's s, computed in the same
 * dispatch by the backend's own Mul-by-scalar rounding and Sigmoid kernel); the tail: + c·h
 * (h [M, N]), then ⊙ mask ([1, N] or [N]) + clamp ([M, N]).
 */
export interface StreamDotTail {
  sigmoidOf?: number;
  h?: Tensor;
  c?: number;
  mask?: Tensor;
  clamp?: Tensor;
}

function streamDotKernel(args: KernelArgs): TensorInfo {
  const { x, w, h, mask, clamp } = args.inputs;
  const c = Number(args.attrs?.c ?? 0);
  const wk = wasmKernels(args.backend);
  if (!wk) throw new Error(`${STREAM_DOT}: the wasm kernels are not loaded`);
  const backend = args.backend as WasmBackendLike; // wasmKernels answers only for the wasm backend
  const sigmoidOf = args.attrs?.sigmoidOf as number | undefined;
  const [M, K] = x.shape;
  const N = w.shape[0];
  const out = backend.makeOutput([M, N], 'float32');
  const at = (t: TensorInfo | undefined) => (t ? offsetOf(backend, t) : 0);
  const temps: TensorInfo[] = [];
  try {
    orRelease(backend, [out], () => {
      let s = x;
      if (sigmoidOf !== undefined) {
        // s = σ(b·x): ew_scale rounds as tfjs's Mul by a scalar; σ is the backend's own kernel
        const scaled = backend.makeOutput(x.shape, 'float32');
        temps.push(scaled);
        wk.fns.ew_scale(at(x), at(scaled), M * K, sigmoidOf);
        const sigmoid = tf.getKernel('Sigmoid', 'wasm');
        if (!sigmoid) throw new Error(`${STREAM_DOT}: no Sigmoid kernel on the wasm backend`);
        s = sigmoid.kernelFunc({ inputs: { x: scaled }, backend: backend as never, attrs: {} }) as TensorInfo;
        temps.push(s);
      }
      // x (read once per row of W, from L1) copied to a cache-line boundary: tfjs's allocator
      // aligns to 8 bytes, and x at 56 mod 64 measured 6 % slower than at 0 (bench/README.md)
      const copy = backend.makeOutput([M * K + 16], 'float32');
      temps.push(copy);
      const xa = Math.ceil(at(copy) / 64) * 64;
      new Float32Array(wk.memory.buffer).copyWithin(xa / 4, at(s) / 4, at(s) / 4 + M * K);
      wk.fns.stream_dot(xa, at(w), at(out), M, K, N, (h ? 1 : 0) | (mask ? 2 : 0), at(h), c, at(mask), at(clamp));
    });
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
  return out;
}

let registered = false;

/**
 * Rows of X the kernel takes: it re-reads each row of W from L1 for every row of X, one multiply-add
 * per load, which pays only for a GEMV (bench/README.md, "Bandwidth": at 2 rows it is level with
 * XNNPACK, at 4 and 10 it is 1.2–1.6× slower).
 */
export const STREAM_MAX_ROWS = 1;

/** Whether `streamDot` runs the wasm kernel here for `rows` rows of X (wasm backend, kernels loaded, no tape recording). */
export function streamDotAvailable(rows: number): boolean {
  if (rows > STREAM_MAX_ROWS || isTaped() || tf.getBackend() !== 'wasm' || !wasmKernels(tf.backend())) return false;
  if (!registered) {
    if (!tf.getKernel(STREAM_DOT, 'wasm')) tf.registerKernel({ kernelName: STREAM_DOT, backendName: 'wasm', kernelFunc: streamDotKernel as unknown as tf.KernelFunc });
    registered = true;
  }
  return true;
}

function check(x: Tensor, w: Tensor, t: StreamDotTail): void {
  const bad = (what: string) => {
    throw new Error(`streamDot: ${what} (x [${x.shape}], w [${w.shape}])`);
  };
  if (x.rank !== 2 || w.rank !== 2 || x.shape[1] !== w.shape[1]) bad('x [M, K] and w [N, K] expected');
  const [M, N] = [x.shape[0], w.shape[0]];
  for (const [name, v] of [['x', x], ['w', w], ['h', t.h], ['mask', t.mask], ['clamp', t.clamp]] as const) if (v && v.dtype !== 'float32') bad(`${name} is ${v.dtype}, float32 expected`);
  const same = (v: Tensor | undefined) => !v || (v.rank === 2 && v.shape[0] === M && v.shape[1] === N);
  if (!same(t.h) || !same(t.clamp)) bad('h and clamp must be [M, N]');
  if (!t.mask !== !t.clamp) bad('mask and clamp come together');
  if (t.mask && t.mask.size !== N) bad('mask must have N elements');
}

/**
 * ((x·wᵀ) + c·h) ⊙ mask + clamp for x [M, K] (or σ(b·x), `sigmoidOf` b), w [N, K]: the wasm kernel where `streamDotAvailable(M)`,
 * else the same tf ops in the same order (the op path the kernel is tested against).
 */
export function streamDot(x: Tensor, w: Tensor, tail: StreamDotTail = {}): Tensor {
  check(x, w, tail);
  const { h, mask, clamp } = tail;
  const c = tail.c ?? 1;
  if (streamDotAvailable(x.shape[0])) {
    const inputs: Record<string, Tensor> = { x, w };
    if (h) inputs.h = h;
    if (mask && clamp) Object.assign(inputs, { mask, clamp });
    return tf.engine().runKernel(STREAM_DOT, inputs as never, { c, sigmoidOf: tail.sigmoidOf } as never) as Tensor;
  }
  return tf.tidy(() => {
    let r = tf.matMul(tail.sigmoidOf === undefined ? x : tf.sigmoid(tf.mul(x, tail.sigmoidOf)), w, false, true);
    if (h) r = tf.add(r, tf.mul(h, c));
    if (mask && clamp) r = tf.add(tf.mul(r, mask), clamp);
    return r;
  });
}
