"""CG-RBP's residual trace in the PyTorch reference (../shared/anchors/torch_ref/bench.py) on the
hypergradient workload (T = 100, full last step, K = 50, the reference's absolute test ||r|| < 1e-5),
on its random data and on MNIST: why its CG stops after 11 iterations where ours runs 50.

  npm run build && node dist/mnist-idx.js /tmp/mnist-idx && /usr/bin/python3 bench/cg_trace.py /tmp/mnist-idx

Prints per data set the loss, ||b|| = ||(I - J) g||, the iterations and the residuals ||r_k||.
The reference's CG is re-implemented here step for step only to record the trace (its own
`conjugate_gradient` returns the last residual alone); everything else is the reference's code.
"""
import os
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, '..', '..', 'shared', 'anchors', 'torch_ref')))
import torch  # noqa: E402
import bench as ref  # noqa: E402

trace = {}


def traced_cg(A, b, max_iter, tol=1e-5):
  trace['b'] = float(ref.vdot(b, b).sqrt())
  x = [torch.zeros_like(v) for v in b]
  r = [v.clone() for v in b]
  p = [v.clone() for v in r]
  rr = ref.vdot(r, r)
  res = []
  it = 0
  for it in range(1, max_iter + 1):
    Ap = A(p)
    alpha = rr / ref.vdot(p, Ap)
    x = [xi + alpha * pi for xi, pi in zip(x, p)]
    r = [ri - alpha * api for ri, api in zip(r, Ap)]
    rr_new = ref.vdot(r, r)
    res.append(float(rr_new.sqrt()))
    if res[-1] < tol:
      break
    p = [ri + (rr_new / rr) * pi for ri, pi in zip(r, p)]
    rr = rr_new
  trace['res'] = res
  return x, it, res[-1]


def main():
  if len(sys.argv) != 2:
    print(__doc__)
    sys.exit(2)
  torch.set_num_threads(1)
  ref.conjugate_gradient = traced_cg
  for label, random in [('random data', True), ('MNIST', False)]:
    X, Y, src = ref.hypergrad_data(types.SimpleNamespace(fmnist_dir=sys.argv[1], random_data=random))
    loss, _, _ = ref.compute_grad(ref.HyperGrad(X, Y, T=100), 'CG_RBP', 50)
    res = trace['res']
    print('%s (%s): loss %.4f, ||b|| %.3e, %d iterations, last ||r|| %.2e (||r||/||b|| %.1e)' %
          (label, src, float(loss), trace['b'], len(res), res[-1], res[-1] / trace['b']))
    print('  ||r_k||: ' + ' '.join('%.1e' % v for v in res))


if __name__ == '__main__':
  main()
