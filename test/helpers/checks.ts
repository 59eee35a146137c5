/** Assertions shared by the model suites: fast paths against their references, no tensor leaks. */
import assert from 'node:assert/strict';
import { tf } from '../../src/core/tf';
import { getMethod, methodNames } from '../../src/core/gradients';
import type { GradientOptions, MethodName } from '../../src/core/gradients/types';
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
 * unchanged; `after` runs after each call for extra checks (e.g. a model's own caches).
 */
export function assertNoLeaks(sys: DynamicSystem, opts: GradientOptions, methods: readonly MethodName[] = methodNames(), after?: (m: MethodName) => void): void {
  for (const m of methods) {
    const r0 = getMethod(m).compute(sys, opts);
    dispose(r0.grads, r0.lossGrads);
    const before = tf.memory().numTensors;
    const r = getMethod(m).compute(sys, { ...opts, trace: true });
    dispose(r.grads, r.lossGrads);
    assert.equal(tf.memory().numTensors, before, `${m} leaves tensors behind`);
    after?.(m);
  }
}

/**
 * Every method in `methods` on `sys` against the same method on each reference system: the loss,
 * the gradients and loss gradients (rel err below the reference's `tol`), the forward residual trace.
 */
export function assertMethodsAgree(sys: DynamicSystem, refs: { sys: DynamicSystem; tol: number; label: string }[], opts: GradientOptions, methods: readonly MethodName[] = methodNames()): void {
  for (const m of methods) {
    const x = getMethod(m).compute(sys, opts);
    for (const r of refs) {
      const y = getMethod(m).compute(r.sys, opts);
      assert.ok(Math.abs(x.loss - y.loss) <= 1e-5 * Math.abs(y.loss), `${m} vs ${r.label}: loss ${x.loss} vs ${y.loss}`);
      const c = compareGrads([...x.grads, ...x.lossGrads], [...y.grads, ...y.lossGrads]);
      assert.ok(c.relErr < r.tol, `${m} vs ${r.label}: gradient rel err ${c.relErr}`);
      x.forward.relResidual.forEach((v, i) => assert.ok(Math.abs(v - y.forward.relResidual[i]) <= 1e-5 * Math.abs(y.forward.relResidual[i]) + 1e-7, `${m} vs ${r.label}: residual ${i}: ${v} vs ${y.forward.relResidual[i]}`));
      dispose(y.grads, y.lossGrads);
    }
    dispose(x.grads, x.lossGrads);
  }
}
