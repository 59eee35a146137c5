/**
 * Checks of what a model module returns, before any training: the shapes of h_0 and of a step, a
 * scalar finite loss, a step that is a pure function of (h, w) — called twice it gives the same
 * output, and its autodiff agrees with a finite difference along a random direction in h and in w —
 * and, where the module gives its own fast paths, that they agree with autodiff of `step`. Each
 * failure is a RunError naming the user's file. Then `guardSystem` wraps the system so that a throw
 * inside the user's code during training names the file and line too.
 */
import { tf, Tensor } from '../../core/tf';
import { genericLinearization, sumParamVjps, type DynamicSystem, type Linearization } from '../../core/system';
import { dispose, dot, norm, type State } from '../../core/state';
import { compareGrads } from '../../core/metrics';
import { Rng } from '../../core/random';
import { RunError } from '../types';
import { userError } from './loader';
import type { UserModel } from './contract';

const bad = (file: string, msg: string) => new RunError('bad-config', `${file}: ${msg}`);

function isTensor(x: unknown): x is Tensor {
  return x instanceof tf.Tensor;
}

function describe(x: unknown): string {
  if (isTensor(x)) return `a Tensor of shape [${x.shape.join(', ')}]`;
  if (Array.isArray(x)) return `an array of ${x.length}`;
  return x === null ? 'null' : typeof x;
}

/** The state a call returned: an array of float32 tensors with the shapes of `like` (when given). */
function checkState(file: string, what: string, s: unknown, like?: State): State {
  if (isTensor(s)) throw bad(file, `${what} must return an array of tensors (the state), got a single Tensor: return [h]`);
  if (!Array.isArray(s) || !s.length || !s.every(isTensor)) throw bad(file, `${what} must return a non-empty array of tensors, got ${describe(s)}`);
  if (like) {
    if (s.length !== like.length) throw bad(file, `${what} returned ${s.length} tensors; the state h has ${like.length}`);
    s.forEach((t, i) => {
      if (t.shape.join() !== like[i].shape.join()) throw bad(file, `${what} returned h[${i}] of shape [${t.shape.join(', ')}]; the state's h[${i}] has shape [${like[i].shape.join(', ')}] (a step must keep every shape)`);
    });
  }
  s.forEach((t, i) => {
    if (t.dtype !== 'float32') throw bad(file, `${what} returned h[${i}] of dtype ${t.dtype}; the state must be float32`);
  });
  return s;
}

function finite(s: State): boolean {
  return s.every((t) => tf.tidy(() => Number.isFinite(tf.sum(tf.abs(t)).dataSync()[0])));
}

function random(like: State, rng: Rng): State {
  const r = like.map((t) => tf.tensor(rng.normalArray(t.size), t.shape));
  const n = norm(r);
  const out = r.map((t) => tf.div(t, n));
  dispose(r);
  return out;
}

/** ⟨z, F(h + εv, w) − F(h − εv, w)⟩ / 2ε (or along u in w), next to ⟨Jᵀz, v⟩ (or ⟨(∂F/∂w)ᵀz, u⟩). */
function finiteDifference(sys: DynamicSystem, h: State, w: Tensor[], z: State, dir: State, inW: boolean): number {
  const eps = 1e-2;
  return tf.tidy(() => {
    const at = (s: number) => {
      const hh = inW ? h : h.map((x, i) => tf.add(x, tf.mul(dir[i], s * eps)));
      const ww = inW ? w.map((x, i) => tf.add(x, tf.mul(dir[i], s * eps))) : w;
      return sys.step(hh, ww, 0, 'unroll');
    };
    return (dot(at(1), z) - dot(at(-1), z)) / (2 * eps);
  });
}

/** A directional derivative by autodiff `ad` against its finite difference `fd`: wrong when they differ by 10% and more than noise. */
function disagree(ad: number, fd: number): boolean {
  return Math.abs(ad - fd) > 0.1 * Math.max(Math.abs(ad), Math.abs(fd)) && Math.abs(ad - fd) > 1e-3;
}

/** Check the model a module returned (the batch of step 0 already set); throws RunError. Leaves no tensor behind. */
export function validateModel(file: string, model: unknown, seed: number): asserts model is UserModel {
  if (!model || typeof model !== 'object') throw bad(file, `the factory must return an object { system, batch?, evaluate?, … }, got ${describe(model)}`);
  const sys = (model as { system?: unknown }).system as DynamicSystem | undefined;
  if (!sys || typeof sys !== 'object') throw bad(file, 'the factory returned no `system` (an object with params, lossParams, initialState, step, loss)');
  for (const f of ['initialState', 'step', 'loss'] as const) if (typeof sys[f] !== 'function') throw bad(file, `system.${f} must be a function, got ${describe(sys[f])}`);
  for (const f of ['params', 'lossParams'] as const) {
    const v: unknown = sys[f];
    if (!Array.isArray(v)) throw bad(file, `system.${f} must be an array of tf.Variable${f === 'lossParams' ? ' (may be empty)' : ''}, got ${describe(v)}`);
    v.forEach((x, i) => {
      if (!(x instanceof tf.Variable)) throw bad(file, `system.${f}[${i}] is ${describe(x)}, not a tf.Variable: make it with tf.variable(…) from the tf RBP Lab passes to the factory`);
    });
  }
  if (!sys.params.length) throw bad(file, 'system.params is empty: F has no parameters to train');
  const m = model as UserModel;
  for (const f of ['batch', 'evaluate', 'summary', 'dispose'] as const) if (m[f] !== undefined && typeof m[f] !== 'function') throw bad(file, `${f} must be a function, got ${describe(m[f])}`);
  if (m.stepsPerEpoch !== undefined && !(Number.isInteger(m.stepsPerEpoch) && m.stepsPerEpoch >= 1)) throw bad(file, `stepsPerEpoch must be an integer ≥ 1, got ${String(m.stepsPerEpoch)}`);
  const w = sys.params as Tensor[];
  const call = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      throw userError(err, file, what);
    }
  };
  // Everything the user's calls return, checked or not, is freed on the way out.
  const made: unknown[] = [];
  const keep = <T>(x: T): T => (made.push(x), x);
  try {
    const h0 = checkState(file, 'system.initialState()', keep(call('system.initialState()', () => sys.initialState())));
    if (!finite(h0)) throw bad(file, 'system.initialState() returned NaN or Infinity');
    const h1 = checkState(file, 'system.step(h0, params, 0)', keep(call('system.step', () => sys.step(h0, w, 0, 'unroll'))), h0);
    if (!finite(h1)) throw bad(file, 'system.step(h0, params, 0) returned NaN or Infinity');
    const again = checkState(file, 'system.step(h0, params, 0)', keep(call('system.step', () => sys.step(h0, w, 0, 'unroll'))), h0);
    const diff = compareGrads(again, h1).relErr;
    if (diff !== 0) throw bad(file, `system.step is not a pure function: called twice on the same h and w it returned different values (relative difference ${diff.toPrecision(3)}); it must not keep state between calls or draw random numbers`);
    const loss: unknown = keep(call('system.loss', () => tf.tidy(() => sys.loss(h1, sys.lossParams as Tensor[]))));
    if (!isTensor(loss) || loss.size !== 1) throw bad(file, `system.loss must return a scalar tensor, got ${describe(loss)}`);
    const lv = loss.dataSync()[0];
    if (!Number.isFinite(lv)) throw bad(file, `system.loss(step(h0)) is ${lv}`);
    checkDerivatives(file, sys, h1, w, seed);
  } finally {
    for (const x of made) tf.dispose(Array.isArray(x) ? x.filter(isTensor) : isTensor(x) ? x : []);
  }
}

/** Autodiff of `step` against finite differences (purity: every dependency on h and w is seen), and the module's fast paths against autodiff. */
function checkDerivatives(file: string, sys: DynamicSystem, h: State, w: Tensor[], seed: number): void {
  const rng = new Rng(seed + 1);
  const z = random(h, rng);
  const v = random(h, rng);
  const u = random(w, rng);
  const gen = genericLinearization(sys, h, w, 0, 'unroll');
  const own: Linearization | undefined = sys.linearize ? sys.linearize(h, w, 0, 'unroll') : undefined;
  const parts: State[] = [z, v, u];
  try {
    const jz = gen.vjp(z);
    const wz = gen.vjpParams(z);
    parts.push(jz, wz);
    const [adH, fdH] = [dot(jz, v), finiteDifference(sys, h, w, z, v, false)];
    if (disagree(adH, fdH))
      throw bad(file, `system.step's autodiff disagrees with a finite difference in h (⟨Jᵀz, v⟩ = ${adH.toPrecision(4)}, finite difference ${fdH.toPrecision(4)}): step must compute its output from the h passed in with tf operations (no dataSync()/arraySync() round trips, no state kept between calls)`);
    const [adW, fdW] = [dot(wz, u), finiteDifference(sys, h, w, z, u, true)];
    if (disagree(adW, fdW))
      throw bad(file, `system.step's autodiff disagrees with a finite difference in w (⟨(∂F/∂w)ᵀz, u⟩ = ${adW.toPrecision(4)}, finite difference ${fdW.toPrecision(4)}): step must use the w passed in (w[i], not the variables it captured) with tf operations`);
    if (own) {
      const checks: [string, State, State][] = [
        ['linearize(…).vjp', own.vjp(z), jz],
        ['linearize(…).vjpParams', own.vjpParams(z), wz],
        ['linearize(…).jvp', own.jvp(v), gen.jvp(v)],
      ];
      for (const [, a, b] of checks) parts.push(a, ...(b !== jz && b !== wz ? [b] : []));
      for (const [name, a, b] of checks) {
        const e = compareGrads(a, b).relErr;
        if (!(e < 1e-3)) throw bad(file, `system.${name} disagrees with autodiff of step (relative error ${e.toPrecision(3)}); a fast path must agree with the generic linearisation to float32 precision`);
      }
    }
    if (sys.paramVjpMany) {
      const a = sys.paramVjpMany([h, h], [z, v], [0, 1], 'unroll');
      const b = sumParamVjps(sys, [h, h], [z, v], [0, 1], 'unroll');
      parts.push(a, b);
      const e = compareGrads(a, b).relErr;
      if (!(e < 1e-3)) throw bad(file, `system.paramVjpMany disagrees with the per-step sum of (∂F/∂w)ᵀz (relative error ${e.toPrecision(3)})`);
    }
  } catch (err) {
    throw userError(err, file, 'checking system.step');
  } finally {
    gen.dispose();
    own?.dispose();
    dispose(...parts);
  }
}

/** The system with every call into the user's code turning a throw into "file:line:col: what: message". */
export function guardSystem(sys: DynamicSystem, file: string): DynamicSystem {
  const guard =
    <A extends unknown[], R>(what: string, fn: (...a: A) => R) =>
    (...a: A): R => {
      try {
        return fn(...a);
      } catch (err) {
        throw userError(err, file, what);
      }
    };
  const lin = sys.linearize?.bind(sys);
  const many = sys.paramVjpMany?.bind(sys);
  return {
    name: sys.name ?? 'model',
    params: sys.params,
    lossParams: sys.lossParams,
    initialState: guard('system.initialState', () => sys.initialState()),
    step: guard('system.step', (h, w, t, phase) => sys.step(h, w, t, phase)),
    loss: guard('system.loss', (h, theta) => sys.loss(h, theta)),
    linearize: lin
      ? guard('system.linearize', (h, w, t, phase) => {
          const l = lin(h, w, t, phase);
          return {
            vjp: guard('linearize(…).vjp', (z) => l.vjp(z)),
            vjpParams: guard('linearize(…).vjpParams', (z) => l.vjpParams(z)),
            jvp: guard('linearize(…).jvp', (x) => l.jvp(x)),
            vjpBoth: guard('linearize(…).vjpBoth', (z) => l.vjpBoth(z)),
            dispose: guard('linearize(…).dispose', () => l.dispose()),
          };
        })
      : undefined,
    paramVjpMany: many ? guard('system.paramVjpMany', (hs, zs, ts, phase) => many(hs, zs, ts, phase)) : undefined,
  };
}
