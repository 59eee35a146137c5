/** Checking a request before anything runs: the memory a run needs against what it can have. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkMemory, checkRequest, memoryLimit, resolveRun, explainAllocation } from '../../src/run/resolve';
import { RunError } from '../../src/experiments/types';

const GiB = 2 ** 30;
const refused = (f: () => void, re: RegExp) =>
  assert.throws(f, (err: unknown) => {
    assert.ok(err instanceof RunError && err.kind === 'bad-config', String(err));
    assert.match(err.message, re);
    return true;
  });

test('sizes a 24 GiB machine cannot hold are refused up front, with the estimate and the fields that set it', () => {
  const on = (experiment: string, overrides: string[], method?: string, K?: number) => resolveRun({ experiment, overrides, method, K });
  // What ships runs, on every backend.
  for (const name of ['hopfield', 'cora', 'pubmed', 'citeseer', 'hypergrad']) {
    for (const backend of ['wasm', 'tensorflow']) checkMemory(on(name, []), backend, 24 * GiB);
    checkMemory(on(name, [], 'BPTT'), 'wasm', 24 * GiB);
  }
  // Hopfield: 8 n×n matrices. hidden_dim 100,000: n = 101,568, 330 GB.
  refused(() => checkMemory(on('hopfield', ['model.hidden_dim=100000']), 'tensorflow', 24 * GiB), /needs at least 307 GiB of tensor memory \(8 matrices of n × n floats, n = 2·model\.input_dim \+ model\.hidden_dim = 101568.*more than 18 GiB \(three quarters of this machine's 24 GiB\)/);
  // 20,000 hidden units fit 24 GiB of RAM but not the wasm heap.
  checkMemory(on('hopfield', ['model.hidden_dim=20000']), 'tensorflow', 24 * GiB);
  refused(() => checkMemory(on('hopfield', ['model.hidden_dim=20000']), 'wasm', 24 * GiB), /more than 4\.0 GiB \(the wasm backend's 4 GiB heap\)/);
  // BPTT keeps T states; the RBP family does not.
  refused(() => checkMemory(on('pubmed', ['model.num_prop=100000'], 'BPTT'), 'tensorflow', 24 * GiB), /19717 nodes with states of model\.hidden_dim = 16, and 100000 states of model\.num_prop for BPTT/);
  checkMemory(on('pubmed', ['model.num_prop=100000'], 'Neumann_RBP', 5), 'tensorflow', 24 * GiB);
  // A hypergradient MLP with a million hidden units.
  refused(() => checkMemory(on('hypergrad', ['model.mlp_hidden=[784, 1000000, 10]']), 'tensorflow', 24 * GiB), /an MLP of 795000010 weights \(model\.mlp_hidden\)/);
  assert.equal(memoryLimit('wasm', 2 * GiB).bytes, 1.5 * GiB, 'the smaller of the two');
  // checkRequest applies it (with this machine's memory): nothing is created for such a request.
  refused(() => checkRequest({ experiment: 'hopfield', overrides: ['model.hidden_dim=1000000'] }), /needs at least/);
  // A gradient check runs BPTT whatever methods it compares.
  refused(() => checkRequest({ experiment: 'pubmed', overrides: ['model.num_prop=100000'], backend: 'wasm', gradcheck: { Ks: [5], methods: ['Neumann_RBP'] } }), /for BPTT/);
});

test('an allocation failure during a run names what drives the sizes', () => {
  const resolved = resolveRun({ experiment: 'hopfield', overrides: ['model.hidden_dim=30000'] });
  const e = explainAllocation(new RangeError('Array buffer allocation failed'), resolved);
  assert.ok(e instanceof RunError && e.kind === 'out-of-memory');
  assert.match(e.message, /^out of memory \(Array buffer allocation failed\): this run needs at least 29\.7 GiB of tensor memory for 8 matrices of n × n floats, n = 2·model\.input_dim \+ model\.hidden_dim = 31568/);
  const other = new TypeError('x is not a function');
  assert.equal(explainAllocation(other, resolved), other, 'anything else passes through');
});
