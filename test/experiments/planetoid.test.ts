import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadPlanetoid, randomSplit, PlanetoidError } from '../../src/experiments/citation-gnn/planetoid';
import { loadPickle, toDense2D } from '../../src/experiments/citation-gnn/pickle';
import { pcaReduce, symmetricEigen } from '../../src/experiments/citation-gnn/pca';
import { Rng } from '../../src/core/random';
import { planetoidDir, coraSkip } from '../helpers/setup';

const SKIP = coraSkip();
const DATA = planetoidDir;

// ---- A tiny protocol-2 pickle writer producing the same structures as Python 2 cPickle + numpy/scipy.
const cat = (...parts: (string | Buffer)[]): Buffer => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));
const int = (v: number): Buffer => {
  const b = Buffer.alloc(5);
  b[0] = 0x4a; // BININT
  b.writeInt32LE(v, 1);
  return b;
};
const str = (s: string): Buffer => cat('U', String.fromCharCode(s.length), s); // SHORT_BINSTRING
function pyNdarray(code: 'i4' | 'f4' | 'f8', shape: number[], values: ArrayLike<number>): Buffer {
  const size = { i4: 4, f4: 4, f8: 8 }[code];
  const raw = Buffer.alloc(values.length * size);
  for (let i = 0; i < values.length; i++) {
    if (code === 'i4') raw.writeInt32LE(values[i], 4 * i);
    else if (code === 'f4') raw.writeFloatLE(values[i], 4 * i);
    else raw.writeDoubleLE(values[i], 8 * i);
  }
  const len = Buffer.alloc(4);
  len.writeInt32LE(raw.length);
  return cat(
    'cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85', str('b'), '\x87R(K\x01(', ...shape.map(int), 't',
    'cnumpy\ndtype\n', str(code), 'K\x00K\x01\x87R(K\x03', str('<'), 'NNN', int(-1), int(-1), 'K\x00tb',
    '\x89T', len, raw, 'tb',
  );
}
function pyCsr(rows: number[][]): Buffer {
  const F = rows[0].length;
  const data: number[] = [];
  const indices: number[] = [];
  const indptr = [0];
  for (const r of rows) {
    r.forEach((v, c) => {
      if (v !== 0) {
        data.push(v);
        indices.push(c);
      }
    });
    indptr.push(data.length);
  }
  return cat(
    'cscipy.sparse.csr\ncsr_matrix\n)\x81}(', str('_shape'), int(rows.length), int(F), '\x86',
    str('data'), pyNdarray('f4', [data.length], data), str('indices'), pyNdarray('i4', [indices.length], indices),
    str('indptr'), pyNdarray('i4', [indptr.length], indptr), str('format'), str('csr'), 'ub',
  );
}
function pyAdjacency(graph: Record<number, number[]>): Buffer {
  const items = Object.entries(graph).map(([k, list]) => cat(int(Number(k)), ']', list.length ? cat('(', ...list.map(int), 'e') : ''));
  return cat('ccollections\ndefaultdict\nc__builtin__\nlist\n\x85R(', ...items, 'u');
}
const pickle = (body: Buffer): Buffer => cat('\x80\x02', body, '.');
const oneHot = (labels: number[], C: number): number[] => labels.flatMap((l) => Array.from({ length: C }, (_, c) => (c === l ? 1 : 0)));

/** A CiteSeer-like data set: test.index has a gap (node 7), an asymmetric edge, a duplicate and a self-loop. */
function writeSynthetic(dir: string): void {
  const F = 4;
  const C = 3;
  const allx = [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
    [1, 1, 0, 0],
    [0, 1, 1, 0],
  ];
  const ally = [0, 1, 2, 0, 1, 2];
  const tx = [
    [9, 0, 0, 1],
    [6, 0, 0, 1],
    [8, 0, 0, 1],
  ];
  const ty = [2, 1, 0];
  const files: Record<string, Buffer | string> = {
    x: pickle(pyCsr(allx.slice(0, 2))),
    y: pickle(pyNdarray('i4', [2, C], oneHot(ally.slice(0, 2), C))),
    allx: pickle(pyCsr(allx)),
    ally: pickle(pyNdarray('i4', [6, C], oneHot(ally, C))),
    tx: pickle(pyCsr(tx)),
    ty: pickle(pyNdarray('f8', [3, C], oneHot(ty, C))),
    graph: pickle(pyAdjacency({ 0: [1, 1, 2], 1: [0], 2: [0, 2], 3: [4], 4: [], 5: [], 6: [9], 7: [], 8: [], 9: [6] })),
    'test.index': '9\n6\n8\n',
  };
  void F;
  for (const [suffix, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, `ind.citeseer.${suffix}`), content);
}

test('real Cora: 2708 nodes, 1433 features, 7 classes, 10,858 entries / 10,556 directed / 5,278 undirected edges', { skip: SKIP }, () => {
  const t0 = performance.now();
  const d = loadPlanetoid(DATA, 'cora');
  console.log(`[planetoid] Cora loaded in ${(performance.now() - t0).toFixed(0)} ms`);
  assert.equal(d.numNodes, 2708);
  assert.equal(d.numFeatures, 1433);
  assert.equal(d.numClasses, 7);
  assert.equal(d.features.length, 2708 * 1433);
  assert.equal(d.edgeStats.adjacencyEntries, 10858);
  assert.equal(d.edgeStats.distinctDirected, 10556);
  assert.equal(d.edgeStats.directedEdges, 10556);
  assert.equal(d.edgeStats.undirectedEdges, 5278);
  assert.equal(d.edgeStats.selfLoops, 0);
  assert.equal(d.edgeStats.addedBySymmetrization, 0);
  assert.equal(d.edgeStats.isolatedNodes, 0);
  assert.equal(d.src.length, 10556);
  assert.equal(d.missingTestNodes.length, 0);
  // symmetric, no self-loops, sorted by destination
  const set = new Set<number>();
  for (let e = 0; e < d.src.length; e++) set.add(d.dst[e] * d.numNodes + d.src[e]);
  for (let e = 0; e < d.src.length; e++) {
    assert.notEqual(d.src[e], d.dst[e]);
    assert.ok(set.has(d.src[e] * d.numNodes + d.dst[e]), `reverse of ${d.src[e]}→${d.dst[e]}`);
    if (e > 0) assert.ok(d.dst[e] > d.dst[e - 1] || (d.dst[e] === d.dst[e - 1] && d.src[e] > d.src[e - 1]));
  }
  // node 0's adjacency list [633, 1862, 2582] are messages into node 0
  const into0 = Array.from(d.src.subarray(0, 3));
  assert.deepEqual(into0, [633, 1862, 2582]);
  assert.deepEqual(Array.from(d.dst.subarray(0, 3)), [0, 0, 0]);
  // split
  assert.equal(d.split.train.length, 140);
  assert.equal(d.split.val.length, 500);
  assert.equal(d.split.test.length, 1000);
  assert.equal(d.split.train[0], 0);
  assert.equal(d.split.val[0], 140);
  assert.equal(d.split.test[0], 1708);
  assert.equal(d.split.test[999], 2707);
  // labels: class sizes of Cora; every node labelled
  const counts = new Array<number>(7).fill(0);
  for (const l of d.labels) counts[l]++;
  assert.deepEqual(counts, [351, 217, 418, 818, 426, 298, 180]);
  // features: binary bag of words, 49,216 nonzeros; test rows reordered to their test.index positions
  let nnz = 0;
  for (const v of d.features) if (v !== 0) nnz++;
  assert.equal(nnz, 49216);
  const tx = toDense2D(loadPickle(fs.readFileSync(path.join(DATA, 'ind.cora.tx')), 'tx'), 'tx');
  const testIndex = fs.readFileSync(path.join(DATA, 'ind.cora.test.index'), 'utf8').trim().split('\n').map(Number);
  for (const k of [0, 1, 500, 999]) {
    const node = testIndex[k];
    assert.deepEqual(Array.from(d.features.subarray(node * 1433, (node + 1) * 1433)), Array.from(tx.data.subarray(k * 1433, (k + 1) * 1433)), `test row ${k} → node ${node}`);
  }
  assert.notEqual(testIndex[0], 1708, 'the file order differs from the sorted order, so the reordering matters');
});

test('a data set with gaps in test.index gets zero rows and label -1 there; edge statistics', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-planetoid-'));
  try {
    writeSynthetic(dir);
    const d = loadPlanetoid(dir, 'citeseer');
    assert.equal(d.numNodes, 10);
    assert.equal(d.numFeatures, 4);
    assert.equal(d.numClasses, 3);
    const row = (i: number): number[] => Array.from(d.features.subarray(i * 4, i * 4 + 4));
    assert.deepEqual(row(0), [1, 0, 0, 0]);
    assert.deepEqual(row(5), [0, 1, 1, 0]);
    assert.deepEqual(row(9), [9, 0, 0, 1]);
    assert.deepEqual(row(6), [6, 0, 0, 1]);
    assert.deepEqual(row(8), [8, 0, 0, 1]);
    assert.deepEqual(row(7), [0, 0, 0, 0], 'the gap is a zero row');
    assert.deepEqual(Array.from(d.labels), [0, 1, 2, 0, 1, 2, 1, -1, 0, 2]);
    assert.deepEqual(Array.from(d.missingTestNodes), [7]);
    assert.deepEqual(Array.from(d.split.train), [0, 1]);
    assert.deepEqual(Array.from(d.split.val), [2, 3, 4, 5]);
    assert.deepEqual(Array.from(d.split.test), [6, 8, 9]);
    assert.deepEqual(d.edgeStats, {
      adjacencyEntries: 9,
      distinctDirected: 8,
      duplicates: 1,
      selfLoops: 1,
      addedBySymmetrization: 1,
      directedEdges: 8,
      undirectedEdges: 4,
      isolatedNodes: 3,
      maxDegree: 2,
      meanDegree: 0.8,
    });
    const edges = Array.from(d.src, (s, e) => `${s}->${d.dst[e]}`);
    assert.deepEqual(edges, ['1->0', '2->0', '0->1', '0->2', '4->3', '3->4', '9->6', '6->9']);
    const withLoops = loadPlanetoid(dir, 'citeseer', { keepSelfLoops: true });
    assert.ok(Array.from(withLoops.src, (s, e) => `${s}->${withLoops.dst[e]}`).includes('2->2'));

    // A missing file names itself, the folder, and where to get the data.
    fs.unlinkSync(path.join(dir, 'ind.citeseer.ty'));
    assert.throws(() => loadPlanetoid(dir, 'citeseer'), (err: unknown) => {
      assert.ok(err instanceof PlanetoidError);
      assert.ok(err.message.includes('ind.citeseer.ty'), err.message);
      assert.ok(err.message.includes(dir), err.message);
      assert.match(err.message, /kimiyoung\/planetoid/);
      assert.match(err.message, /--data or the rbpLab\.dataDir setting/);
      return true;
    });
    assert.throws(() => loadPlanetoid(path.join(dir, 'nope'), 'cora'), /does not exist.*kimiyoung\/planetoid/);
    // A broken test.index line is reported with its line number.
    writeSynthetic(dir);
    fs.writeFileSync(path.join(dir, 'ind.citeseer.test.index'), '9\nsix\n8\n');
    assert.throws(() => loadPlanetoid(dir, 'citeseer'), /ind\.citeseer\.test\.index: line 2/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('randomSplit: 1% / 49% / rest, disjoint, covering, seeded', () => {
  const s = randomSplit(2708, 0.01, 3);
  assert.equal(s.train.length, 27);
  assert.equal(s.val.length, 1327);
  assert.equal(s.test.length, 2708 - 27 - 1327);
  const all = [...s.train, ...s.val, ...s.test].sort((a, b) => a - b);
  assert.deepEqual(all, Array.from({ length: 2708 }, (_, i) => i));
  assert.deepEqual(randomSplit(2708, 0.01, 3), s, 'same seed, same split');
  assert.notDeepEqual(Array.from(randomSplit(2708, 0.01, 4).train), Array.from(s.train));
  const labels = Int32Array.from({ length: 100 }, (_, i) => (i % 10 === 0 ? -1 : 1));
  const l = randomSplit(100, 0.1, 1, { labels, valRatio: 0.4 });
  assert.equal(l.train.length + l.val.length + l.test.length, 90);
  for (const set of [l.train, l.val, l.test]) for (const i of set) assert.notEqual(labels[i], -1);
  assert.throws(() => randomSplit(10, 0.6, 1), /bad split ratios/);
});

test('symmetricEigen diagonalises a symmetric matrix', () => {
  const rng = new Rng(2);
  const n = 12;
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) A[i * n + j] = A[j * n + i] = rng.normal();
  const { values, vectors } = symmetricEigen(A, n);
  for (let m = 0; m < n; m++) {
    if (m > 0) assert.ok(values[m] <= values[m - 1]);
    for (let i = 0; i < n; i++) {
      let av = 0;
      for (let j = 0; j < n; j++) av += A[i * n + j] * vectors[j * n + m];
      assert.ok(Math.abs(av - values[m] * vectors[i * n + m]) < 1e-9, `A v = λ v for pair ${m}`);
    }
  }
});

test('PCA on Cora: orthonormal components, top variance equals power iteration on the covariance, fast', { skip: SKIP }, () => {
  const d = loadPlanetoid(DATA, 'cora');
  const { numNodes: N, numFeatures: F, features: X } = d;
  const k = 16;
  const t0 = performance.now();
  const p = pcaReduce(X, N, F, k, 1);
  const ms = performance.now() - t0;
  console.log(`[pca] Cora ${N}×${F} → ${k} in ${ms.toFixed(0)} ms; explained variance ${Array.from(p.explainedVariance.subarray(0, 4), (v) => v.toFixed(5)).join(', ')}…, ratio ${p.explainedVarianceRatio.reduce((a, b) => a + b, 0).toFixed(3)}`);
  assert.ok(ms < 10000, `PCA took ${ms} ms`);
  assert.equal(p.projected.length, N * k);
  // orthonormal
  for (let a = 0; a < k; a++) {
    for (let b = a; b < k; b++) {
      let s = 0;
      for (let c = 0; c < F; c++) s += p.components[a * F + c] * p.components[b * F + c];
      assert.ok(Math.abs(s - (a === b ? 1 : 0)) < 1e-8, `components ${a}·${b} = ${s}`);
    }
  }
  // decreasing variances
  for (let m = 1; m < k; m++) assert.ok(p.explainedVariance[m] <= p.explainedVariance[m - 1] + 1e-12);

  // Plain power iteration on C = Xcᵀ Xc / (N − 1), with X as a list of nonzeros.
  const rows: number[] = [];
  const cols: number[] = [];
  const vals: number[] = [];
  for (let r = 0; r < N; r++) {
    for (let c = 0; c < F; c++) {
      if (X[r * F + c] === 0) continue;
      rows.push(r);
      cols.push(c);
      vals.push(X[r * F + c]);
    }
  }
  const mean = new Float64Array(F);
  for (let i = 0; i < vals.length; i++) mean[cols[i]] += vals[i] / N;
  const covTimes = (v: Float64Array): Float64Array => {
    const u = new Float64Array(N);
    let mv = 0;
    for (let c = 0; c < F; c++) mv += mean[c] * v[c];
    for (let i = 0; i < vals.length; i++) u[rows[i]] += vals[i] * v[cols[i]];
    for (let r = 0; r < N; r++) u[r] -= mv;
    const w = new Float64Array(F);
    let su = 0;
    for (let r = 0; r < N; r++) su += u[r];
    for (let i = 0; i < vals.length; i++) w[cols[i]] += vals[i] * u[rows[i]];
    for (let c = 0; c < F; c++) w[c] = (w[c] - mean[c] * su) / (N - 1);
    return w;
  };
  const rng = new Rng(99);
  let v = Float64Array.from({ length: F }, () => rng.normal());
  let lambda = 0;
  for (let it = 0; it < 400; it++) {
    const w = covTimes(v);
    let norm = 0;
    for (let c = 0; c < F; c++) norm += w[c] * w[c];
    norm = Math.sqrt(norm);
    let vw = 0;
    for (let c = 0; c < F; c++) vw += v[c] * w[c];
    lambda = vw;
    v = w.map((x) => x / norm);
  }
  assert.ok(Math.abs(p.explainedVariance[0] - lambda) < 1e-6 * lambda, `PCA λ1 ${p.explainedVariance[0]} vs power iteration ${lambda}`);
  assert.ok(Math.abs(lambda - 0.30242676) < 1e-6, `λ1 = ${lambda}, numpy.linalg.eigvalsh gives 0.30242676`);
  // the top component is the power-iteration direction (up to sign)
  let align = 0;
  for (let c = 0; c < F; c++) align += v[c] * p.components[c];
  assert.ok(Math.abs(Math.abs(align) - 1) < 1e-4, `|cos| = ${Math.abs(align)}`);
  // projected = (X − μ) Wᵀ
  for (const r of [0, 1234, N - 1]) {
    for (const m of [0, k - 1]) {
      let s = 0;
      for (let c = 0; c < F; c++) s += (X[r * F + c] - p.mean[c]) * p.components[m * F + c];
      assert.ok(Math.abs(p.projected[r * k + m] - s) < 1e-5, `projection of row ${r} on component ${m}`);
    }
  }
  // deterministic for a seed
  const again = pcaReduce(X, N, F, k, 1);
  assert.deepEqual(Array.from(again.projected.subarray(0, 100)), Array.from(p.projected.subarray(0, 100)));
});
