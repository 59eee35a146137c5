/**
 * The checks every (system × gradient method) pair is put through, written once and run by each
 * suite on its own systems (as optimistix runs each solver on each problem): two linearisations
 * agree, a method's fast path agrees with its reference, a gradient call leaves no tensor behind.
 */
import assert from 'node:assert/strict';
import { tf } from '../../src/core/tf';
import { getMethod, methodNames } from '../../src/core/gradients';
import type { GradientOptions, GradientResult, MethodName } from '../../src/core/gradients/types';
import type { DynamicSystem, Linearization } from '../../src/core/system';
import { compareGrads } from '../../src/core/metrics';
import { dispose } from '../../src/core/state';
import type { State } from '../../src/core/state';
import { randomDirection } from './setup';

/**
 * Two linearisations of the same step at h agree along a random direction: Jᵀu, (∂F/∂w)ᵀu, J u
 * and vjpBoth, each to relative error `tol`. Disposes what it makes (not a, b or h).
 */
export function assertSameLinearization(a: Linearization, b: Linearization, h: State, label: string, tol = 1e-5): void {
  const u = randomDirection(h, 4);
  const rel = (x: tf.Tensor[], y: tf.Tensor[], what: string) => {
    const c = compareGrads(x, y);
    assert.ok(c.relErr < tol, `${what}: ${label} rel err ${c.relErr}`);
    dispose(x, y);
  };
  rel(a.vjp(u), b.vjp(u), 'Jᵀu');
  rel(a.vjpParams(u), b.vjpParams(u), '(∂F/∂w)ᵀu');
  rel(a.jvp(u), b.jvp(u), 'J u');
  const both = a.vjpBoth(u);
  rel([...both.h, ...both.w], [...b.vjp(u), ...b.vjpParams(u)], 'vjpBoth');
  dispose(u);
}

/**
 * Each method's gradient call, after one warm-up call (caches), leaves the live tensor count
 * unchanged over `repeats` calls with the trace on; `after` runs after each method for extra
 * checks (e.g. a model's own caches).
 */
export function assertNoLeaks(sys: DynamicSystem, opts: GradientOptions, methods: readonly MethodName[] = methodNames(), after?: (m: MethodName) => void, repeats = 1): void {
  for (const m of methods) {
    const r0 = getMethod(m).compute(sys, opts);
    dispose(r0.grads, r0.lossGrads);
    const before = tf.memory().numTensors;
    for (let i = 0; i < repeats; i++) {
      const r = getMethod(m).compute(sys, { ...opts, trace: true });
      dispose(r.grads, r.lossGrads);
    }
    assert.equal(tf.memory().numTensors, before, `${m} leaves tensors behind`);
    after?.(m);
  }
}

/** A system a fast path is held to; `tol` bounds the gradients' relative error, for every method or per method. */
export interface Reference {
  sys: DynamicSystem;
  label: string;
  tol: number | ((m: MethodName) => number);
}

/**
 * Every method in `methods` on `sys` against the same method on each reference system: the loss,
 * the gradients and loss gradients (rel err below the reference's `tol`), the forward residual
 * trace (unless `residuals` is false); `each` gets every method's result on `sys` for checks of its own.
 */
export function assertMethodsAgree(sys: DynamicSystem, refs: Reference[], opts: GradientOptions, methods: readonly MethodName[] = methodNames(), more: { residuals?: boolean; each?: (m: MethodName, x: GradientResult) => void } = {}): void {
  for (const m of methods) {
    const x = getMethod(m).compute(sys, opts);
    more.each?.(m, x);
    for (const r of refs) {
      const y = getMethod(m).compute(r.sys, opts);
      const tol = typeof r.tol === 'number' ? r.tol : r.tol(m);
      assert.ok(Math.abs(x.loss - y.loss) <= 1e-5 * Math.abs(y.loss), `${m} vs ${r.label}: loss ${x.loss} vs ${y.loss}`);
      const c = compareGrads([...x.grads, ...x.lossGrads], [...y.grads, ...y.lossGrads]);
      assert.ok(c.relErr < tol, `${m} vs ${r.label}: gradient rel err ${c.relErr} (tolerance ${tol})`);
      if (more.residuals !== false) x.forward.relResidual.forEach((v, i) => assert.ok(Math.abs(v - y.forward.relResidual[i]) <= 1e-5 * Math.abs(y.forward.relResidual[i]) + 1e-7, `${m} vs ${r.label}: residual ${i}: ${v} vs ${y.forward.relResidual[i]}`));
      dispose(y.grads, y.lossGrads);
    }
    dispose(x.grads, x.lossGrads);
  }
}
