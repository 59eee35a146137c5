/**
 * The webgpu backend (Dawn through npm `webgpu`, tfjs's webgpu backend through our GPU thread) on
 * SwiftShader, Chromium's CPU-emulated Vulkan driver: the same numbers as wasm, small models only
 * (SwiftShader is slow; n = 192 Hopfield, a 6-node GNN, a 20-12-12-5 hypergradient MLP).
 *
 * Tolerance: float32 on a GPU sums in another order than wasm: losses agree to 1e-5 relative,
 * gradients to 1e-4 relative (measured: ~1e-7 for Hopfield, see the diagnostics).
 *
 * Where the driver or the package is missing a local run skips every test and says what is
 * missing; in CI (CI=true) a failing test says it instead (.ci/run installs chromium and libvulkan1).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { tf } from '../../src/core/tf';
import { selectBackend, BackendChoice } from '../../src/core/backend';
import { getMethod } from '../../src/core/gradients';
import type { MethodName } from '../../src/core/gradients/types';
import { compareArrays, compareGrads } from '../../src/core/metrics';
import { dispose } from '../../src/core/state';
import { Rng } from '../../src/core/random';
import { measurePeak } from '../../src/core/memory';
import { SWIFTSHADER_ICD, WEBGPU_PACKAGE } from '../../src/core/webgpu';
import type { DynamicSystem } from '../../src/core/system';
import { HopfieldSystem, HOPFIELD_DEFAULTS } from '../../src/experiments/hopfield/model';
import { hopfieldPatterns } from '../../src/experiments/hopfield/data';
import { GruGnnSystem, GnnGraph } from '../../src/experiments/citation-gnn/model';
import { HypergradSystem, HYPERGRAD_DEFAULTS } from '../../src/experiments/hypergrad/model';
import { syntheticDataset } from '../../src/experiments/hypergrad/data';
import { fusedAvailable } from '../../src/experiments/hypergrad/fused';
import { ToySystem } from '../helpers/toy';
import { assertMethodsAgree, assertNoLeaks } from '../helpers/checks';
import { repoRoot, skipOrFailInCi } from '../helpers/setup';

/** Why this suite cannot run here, or false. */
function missing(): false | string {
  if (!process.env.VK_ICD_FILENAMES) {
    if (!fs.existsSync(SWIFTSHADER_ICD)) return `the SwiftShader Vulkan driver ${SWIFTSHADER_ICD} is not installed (Debian: apt-get install chromium) and VK_ICD_FILENAMES is not set`;
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD; // read by Dawn's thread, started below
  }
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  try {
    require.resolve(`${WEBGPU_PACKAGE}/package.json`);
  } catch {
    return `the optional dependency ${WEBGPU_PACKAGE} is not installed (npm ci installs it)`;
  }
  return false;
}

const why = missing();
const skip = why ? skipOrFailInCi('the webgpu suite can run', why, 'CI runs the webgpu tests') : false;

let choice: BackendChoice | undefined;
before(async () => {
  if (skip) return;
  choice = await selectBackend('webgpu'); // asked for by name: a software adapter is allowed
});
after(async () => {
  if (!skip) await selectBackend('wasm');
});

/** Run `fn` on a backend (a fresh system each time) and return plain numbers. */
async function on<T>(backend: 'webgpu' | 'wasm', fn: () => T): Promise<T> {
  await selectBackend(backend);
  try {
    return fn();
  } finally {
    if (backend === 'wasm') await selectBackend('webgpu');
  }
}

interface Numbers {
  loss: number;
  grad: Float32Array;
  finalRel: number;
}

function numbers(sys: DynamicSystem, m: MethodName, T: number, K: number): Numbers {
  const r = getMethod(m).compute(sys, { T, K });
  const grad = Float32Array.from([...r.grads, ...r.lossGrads].flatMap((t) => Array.from(t.dataSync())));
  dispose(r.grads, r.lossGrads, r.adjoint ?? []);
  return { loss: r.loss, grad, finalRel: r.forward.finalRel };
}

/** Each method's loss (1e-5) and gradient (1e-4) on webgpu against wasm; `make` builds the system on the active backend. */
async function assertSameAsWasm(t: { diagnostic(s: string): void }, make: () => DynamicSystem & { dispose(): void }, methods: MethodName[], T: number, K: number): Promise<void> {
  const run = () => {
    const sys = make();
    try {
      return methods.map((m) => numbers(sys, m, T, K));
    } finally {
      sys.dispose();
    }
  };
  const gpu = await on('webgpu', run);
  const cpu = await on('wasm', run);
  methods.forEach((m, i) => {
    const c = compareArrays(gpu[i].grad, cpu[i].grad);
    t.diagnostic(`${m}: loss ${gpu[i].loss} vs wasm ${cpu[i].loss}; gradient rel err ${c.relErr.toExponential(2)}`);
    assert.ok(Math.abs(gpu[i].loss - cpu[i].loss) <= 1e-5 * Math.abs(cpu[i].loss), `${m}: loss on webgpu ${gpu[i].loss} vs wasm ${cpu[i].loss}`);
    assert.ok(c.relErr < 1e-4, `${m}: gradient on webgpu vs wasm rel err ${c.relErr}`);
    assert.ok(gpu[i].grad.some((x) => x !== 0), `${m}: a zero gradient on webgpu`);
  });
}

test('webgpu is chosen by name on the software adapter, which is named; auto never picks it', { skip }, async () => {
  assert.equal(tf.getBackend(), 'webgpu');
  assert.equal(choice?.name, 'webgpu');
  assert.ok(choice?.adapter, 'the choice names its adapter');
  assert.equal(choice.adapter.software, true, `SwiftShader is a software adapter: ${JSON.stringify(choice.adapter)}`);
  assert.match(`${choice.adapter.architecture} ${choice.adapter.description}`, /swiftshader/i);
  const auto = await selectBackend('auto');
  assert.notEqual(auto.name, 'webgpu');
  assert.match(auto.skipped.find((s) => s.name === 'webgpu')?.reason ?? '', /only a software adapter/);
  await selectBackend('webgpu');
  assert.equal(tf.getBackend(), 'webgpu');
});

test('a read after many kernels returns the GPU result (the GPU thread runs batches in order)', { skip }, () => {
  // Mutant check: a bridge that dropped or reordered batches fails this (the sum is order-dependent).
  const x = tf.tidy(() => {
    let v = tf.range(0, 1000, 1, 'float32');
    for (let i = 0; i < 50; i++) v = tf.add(tf.mul(v, 0.5), i);
    return tf.sum(v);
  });
  let expect = 0;
  for (let j = 0; j < 1000; j++) {
    let v = j;
    for (let i = 0; i < 50; i++) v = v * 0.5 + i;
    expect += v;
  }
  assert.ok(Math.abs(x.dataSync()[0] - expect) <= 1e-5 * expect, `${x.dataSync()[0]} vs ${expect}`);
  x.dispose();
});

test('Hopfield n = 192: the loss and every method’s gradient equal wasm’s (rel 1e-4)', { skip }, async (t) => {
  const images = hopfieldPatterns(10).map((im) => im.slice(0, 64));
  const make = () => new HopfieldSystem({ ...HOPFIELD_DEFAULTS, nIn: 64, nHid: 64 }, images);
  await assertSameAsWasm(t, make, ['BPTT', 'TBPTT', 'RBP', 'CG_RBP', 'Neumann_RBP', 'exact'], 50, 10);
});

test('at a fixed point Neumann-RBP(K) equals TBPTT over K+1 updates on webgpu (and the forward pass converges)', { skip }, () => {
  const sys = new ToySystem({ scale: 1.2, seed: 5 });
  for (const K of [3, 6]) {
    const n = getMethod('Neumann_RBP').compute(sys, { T: 150, K });
    const tK1 = getMethod('TBPTT').compute(sys, { T: 150, K: K + 1 });
    const tK = getMethod('TBPTT').compute(sys, { T: 150, K });
    assert.ok(n.forward.finalRel < 1e-6, `forward converged (${n.forward.finalRel})`);
    const same = compareGrads(n.grads, tK1.grads).relErr;
    const off = compareGrads(n.grads, tK.grads).relErr;
    assert.ok(same < 1e-5, `K=${K}: Neumann vs TBPTT(K+1) rel err ${same}`);
    assert.ok(off > 100 * same, `K=${K}: TBPTT(K) differs by the (Jᵀ)^K term: ${off} vs ${same}`);
    dispose(n.grads, n.lossGrads, tK1.grads, tK1.lossGrads, tK.grads, tK.lossGrads);
  }
  sys.dispose();
});

test('BPTT on webgpu agrees with central finite differences (toy system)', { skip }, () => {
  const sys = new ToySystem({ scale: 0.8, seed: 2 });
  const T = 30;
  const r = getMethod('BPTT').compute(sys, { T, K: T });
  const W = sys.params[0];
  const dir = tf.tidy(() => tf.randomNormal(W.shape, 0, 1, 'float32', 4));
  const an = tf.tidy(() => tf.sum(tf.mul(r.grads[0], dir)).dataSync()[0]);
  const w0 = W.clone();
  const at = (eps: number) => {
    W.assign(tf.tidy(() => tf.add(w0, tf.mul(dir, eps))));
    return getMethod('BPTT').compute(sys, { T, K: T });
  };
  const eps = 1e-2;
  const p = at(eps);
  const m = at(-eps);
  const fd = (p.loss - m.loss) / (2 * eps);
  W.assign(w0);
  assert.ok(Math.abs(fd - an) <= 1e-3 * Math.abs(an) + 1e-5, `directional derivative: BPTT ${an} vs finite differences ${fd}`);
  dispose(r.grads, r.lossGrads, p.grads, p.lossGrads, m.grads, m.lossGrads, [dir, w0]);
  sys.dispose();
});

/** Six nodes with a duplicate edge and a node without in-edges, random features. */
function tinyGraph(): GnnGraph {
  const rng = new Rng(5);
  const edges: [number, number][] = [[0, 1], [1, 0], [1, 2], [2, 3], [3, 1], [4, 3], [0, 3], [0, 3], [3, 5], [5, 0], [2, 4]];
  return {
    numNodes: 6,
    src: Int32Array.from(edges, (e) => e[0]),
    dst: Int32Array.from(edges, (e) => e[1]),
    features: rng.normalArray(6 * 4, 0.8),
    dim: 4,
    labels: Int32Array.from({ length: 6 }, (_, i) => i % 3),
    numClasses: 3,
    lossNodes: Int32Array.from([0, 2, 3, 5]),
  };
}

test('GRU-GNN (6 nodes): webgpu equals wasm; the analytic path equals generic autodiff on webgpu; no tensor left behind', { skip }, async (t) => {
  const graph = tinyGraph();
  await assertSameAsWasm(t, () => new GruGnnSystem(graph, { seed: 9, analytic: true }), ['BPTT', 'Neumann_RBP', 'CG_RBP'], 8, 4);
  const fast = new GruGnnSystem(graph, { seed: 9, analytic: true });
  const slow = new GruGnnSystem(graph, { seed: 9, analytic: false });
  assertMethodsAgree(fast, [{ sys: slow, tol: 1e-4, label: 'generic (webgpu)' }], { T: 8, K: 4 }, ['BPTT', 'Neumann_RBP']);
  assertNoLeaks(fast, { T: 6, K: 3 }, ['BPTT', 'Neumann_RBP']);
  fast.dispose();
  slow.dispose();
});

test('hypergradient MLP (20-12-12-5): the wasm-only fused kernels are off on webgpu and the ops path equals wasm’s', { skip }, async (t) => {
  assert.equal(fusedAvailable(), false, 'the fused wasm kernels must not run on webgpu');
  const data = syntheticDataset(100, 20, 5, 7);
  const make = () => new HypergradSystem({ ...HYPERGRAD_DEFAULTS, sizes: [20, 12, 12, 5], batchSize: 20, seed: 3, initScale: 0.3 }, data);
  await assertSameAsWasm(t, make, ['BPTT', 'Neumann_RBP'], 6, 3);
});

test('GPU memory: measurePeak reports the GPU buffers a computation holds (numBytesInGPU), none left after', { skip }, () => {
  const before = (tf.memory() as { numBytesInGPU?: number }).numBytesInGPU ?? NaN;
  // The read inside submits the work, which frees the inputs: the bytes in use at the end are far
  // below the peak (a mutant reporting the end's bytes as the peak fails below).
  const { result, memory } = measurePeak(() => {
    const s = tf.tidy(() => tf.sum(tf.matMul(tf.ones([256, 256]), tf.ones([256, 256]))));
    const v = s.dataSync()[0];
    s.dispose();
    return v;
  });
  assert.equal(result, 256 ** 3);
  assert.ok(memory.gpuPeakBytes !== undefined, 'a GPU peak on webgpu');
  // Two 256×256 float32 inputs and their product were alive at once: at least 3 × 256 KiB.
  assert.ok(memory.gpuPeakBytes >= 3 * 256 * 256 * 4, `GPU peak ${memory.gpuPeakBytes}`);
  assert.equal((tf.memory() as { numBytesInGPU?: number }).numBytesInGPU, before, 'GPU bytes in use back where they were');
});

test('without a driver, webgpu by name fails at once with the reason', { skip: skip || (process.platform !== 'linux' && 'Vulkan drivers are a Linux matter') }, async () => {
  // A second process: Dawn reads VK_ICD_FILENAMES once, when its thread starts.
  const cli = path.join(repoRoot, 'dist', 'cli.js');
  assert.ok(fs.existsSync(cli), `build first (npm run build): ${cli} is missing`);
  const r = spawnSync(process.execPath, [cli, 'run', 'hopfield', '--backend', 'webgpu', '--steps', '1', '--runs-dir', fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-nodriver-'))], { env: { ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json' }, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /backend 'webgpu' is not available .*VK_ICD_FILENAMES names driver files that do not exist: \/nonexistent\/icd\.json/);
});
