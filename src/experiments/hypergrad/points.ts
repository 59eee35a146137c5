/**
 * Forward passes of the MLP made by untaped steps, kept by the identity of the state's Θ tensor
 * (immutable tensors: same object, same values). An entry goes to the first `take` at the same
 * (Θ, batch) — a `linearize` that then need not redo it — or is disposed once its Θ is (`sweep`,
 * at every step).
 */
import { tf, Tensor } from '../../core/tf';
import type { Batch, MlpPass } from './mlp';

export class PointCache {
  private readonly points = new Map<Tensor, { batch: Batch; pt: MlpPass }>();

  /** The cached forward pass at (Θ, batch), removed from the cache (the caller owns it now). */
  take(theta: Tensor, batch: Batch): MlpPass | undefined {
    const e = this.points.get(theta);
    if (!e || e.batch !== batch) return undefined;
    this.points.delete(theta);
    return e.pt;
  }

  put(theta: Tensor, batch: Batch, pt: MlpPass): void {
    if (theta instanceof tf.Variable) {
      pt.dispose(); // mutable: identity does not pin the values
      return;
    }
    this.points.get(theta)?.pt.dispose();
    this.points.set(theta, { batch, pt });
  }

  /** Dispose the entries whose Θ is gone. */
  sweep(): void {
    for (const [k, e] of this.points) {
      if (k.isDisposed) {
        e.pt.dispose();
        this.points.delete(k);
      }
    }
  }

  get size(): number {
    return this.points.size;
  }

  dispose(): void {
    for (const e of this.points.values()) e.pt.dispose();
    this.points.clear();
  }
}
