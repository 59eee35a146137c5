// RBP Lab as a library: a model of your own (a small deep-equilibrium layer), its fixed point,
// ρ(J), and every gradient method against `exact` — no VS Code, no CLI.
//   npm run build && node examples/library.mjs          (in a project of yours: npm install <path to rbp-lab>)
import { tf, selectBackend, activations, Rng, NaiveSolver, getMethod, methods, linearize, spectralRadius, compareGrads } from 'rbp-lab';

await selectBackend(process.env.RBP_BACKEND ?? 'wasm');
const rng = new Rng(1);
const n = 16;
const variable = (init) => {
  const v = tf.variable(init);
  init.dispose();
  return v;
};
// h ← tanh(h W + x), L = mean((h* − y)²); W starts with spectral radius ≈ 0.9.
const W = variable(tf.tensor2d(rng.normalArray(n * n, 0.9 / Math.sqrt(n)), [n, n]));
const x = tf.tensor2d(rng.normalArray(4 * n), [4, n]);
const y = tf.tensor2d(rng.normalArray(4 * n, 0.5), [4, n]);

/** @type {import('rbp-lab').DynamicSystem} */
const system = {
  name: 'deq',
  params: [W],
  lossParams: [],
  initialState: () => [tf.zeros([4, n])],
  // A pure function of (h, w), with the second-order-safe tanh (CG-RBP's J v needs it).
  step: (h, w) => tf.tidy(() => [activations.tanh(tf.add(tf.matMul(h[0], w[0]), x))]),
  loss: (h) => tf.tidy(() => tf.mean(tf.square(tf.sub(h[0], y)))),
};

const T = 100;
const h0 = system.initialState();
const fwd = new NaiveSolver().solve(system, h0, { maxSteps: T, keep: 1 });
const lin = linearize(system, fwd.history[0].h, system.params, T - 1, 'linearize');
const { rho } = spectralRadius(lin, fwd.h, 50);
lin.dispose();
tf.dispose([...h0, ...fwd.h, ...fwd.history[0].h]);
console.log(`forward: relative residual ${fwd.stats.finalRel.toExponential(2)} after ${fwd.stats.steps} steps; ρ(J) = ${rho.toFixed(3)}`);

const exact = getMethod('exact').compute(system, { T, K: 1 });
const rows = [];
for (const m of methods()) {
  if (m.name === 'exact') continue;
  for (const K of m.takesK ? [5, 20] : [null]) {
    const r = getMethod(m.name).compute(system, { T, K: K ?? 1 });
    const { relErr, cosine } = compareGrads(r.grads, exact.grads);
    rows.push({ method: m.name, K, relErr, cosine });
    tf.dispose(r.grads);
  }
}
tf.dispose(exact.grads);
console.table(rows.map((r) => ({ method: r.method, K: r.K ?? '-', 'rel err vs exact': r.relErr.toExponential(2), cosine: r.cosine.toFixed(6) })));
if (process.argv.includes('--json')) console.log(JSON.stringify({ rho, rows }));
