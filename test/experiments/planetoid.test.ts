import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { classCounts, loadPlanetoid, randomSplit, PlanetoidError } from '../../src/experiments/citation-gnn/planetoid';
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

test('real Cora: 2708 nodes, 1433 features, 7 classes; 10,858 messages as the authors, 10,556 merged (5,278 undirected edges)', { skip: SKIP }, () => {
  const t0 = performance.now();
  const d = loadPlanetoid(DATA, 'cora');
  console.log(`[planetoid] Cora loaded in ${(performance.now() - t0).toFixed(0)} ms`);
  assert.equal(d.numNodes, 2708);
  assert.equal(d.numFeatures, 1433);
  assert.equal(d.numClasses, 7);
  assert.equal(d.features.length, 2708 * 1433);
  assert.equal(d.edgeStats.adjacencyEntries, 10858);
  assert.equal(d.edgeStats.distinctDirected, 10556);
  assert.equal(d.edgeStats.duplicates, 302);
  assert.equal(d.edgeStats.undirectedEdges, 5278);
  assert.equal(d.edgeStats.selfLoops, 0);
  assert.equal(d.edgeStats.addedBySymmetrization, 0);
  assert.equal(d.edgeStats.isolatedNodes, 0);
  // the authors' graph: one message per adjacency entry, repeated ones included (mutant: merging by default → 10,556)
  assert.equal(d.edgeStats.merged, false);
  assert.equal(d.edgeStats.messages, 10858);
  assert.equal(d.src.length, 10858);
  assert.equal(d.edgeStats.maxInDegree, 169);
  // node 0's adjacency list [633, 1862, 2582]: messages 0 → 633, 0 → 1862, 0 → 2582 (model/gnn.py: edge[:, 0] → edge[:, 1])
  assert.deepEqual(Array.from(d.src.subarray(0, 3)), [0, 0, 0]);
  assert.deepEqual(Array.from(d.dst.subarray(0, 3)), [633, 1862, 2582]);
  // merged: symmetric, no self-loops, sorted by destination
  const m = loadPlanetoid(DATA as string, 'cora', { mergeDuplicateEdges: true });
  assert.equal(m.edgeStats.merged, true);
  assert.equal(m.edgeStats.messages, 10556);
  assert.equal(m.src.length, 10556);
  assert.equal(m.edgeStats.maxInDegree, 168);
  const set = new Set<number>();
  for (let e = 0; e < m.src.length; e++) set.add(m.dst[e] * m.numNodes + m.src[e]);
  assert.equal(set.size, 10556, 'no repeated edge');
  for (let e = 0; e < m.src.length; e++) {
    assert.notEqual(m.src[e], m.dst[e]);
    assert.ok(set.has(m.src[e] * m.numNodes + m.dst[e]), `reverse of ${m.src[e]}→${m.dst[e]}`);
    if (e > 0) assert.ok(m.dst[e] > m.dst[e - 1] || (m.dst[e] === m.dst[e - 1] && m.src[e] > m.src[e - 1]));
  }
  // every merged edge is among the authors' messages, and every message is a merged edge
  const authors = new Set(Array.from(d.src, (s, e) => d.dst[e] * d.numNodes + s));
  assert.equal(authors.size, 10556);
  for (const k of authors) assert.ok(set.has(k));
  assert.deepEqual(Array.from(m.src.subarray(0, 3)), [633, 1862, 2582]);
  assert.deepEqual(Array.from(m.dst.subarray(0, 3)), [0, 0, 0]);
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
    // the labelled list in the authors' order: the allx rows, then test.index in file order
    assert.deepEqual(Array.from(d.labelled), [0, 1, 2, 3, 4, 5, 9, 6, 8]);
    const common = { adjacencyEntries: 9, distinctDirected: 8, duplicates: 1, selfLoops: 1, addedBySymmetrization: 1, undirectedEdges: 4 };
    // as the authors: every entry i: [.., j, ..] is a message i → j, in list order, the repeated 0 → 1 twice, the self-loop kept
    assert.deepEqual(d.edgeStats, { ...common, merged: false, messages: 9, isolatedNodes: 4, maxInDegree: 2, meanInDegree: 0.9 });
    assert.deepEqual(Array.from(d.src, (s, e) => `${s}->${d.dst[e]}`), ['0->1', '0->1', '0->2', '1->0', '2->0', '2->2', '3->4', '6->9', '9->6']);
    // merged: once each, symmetrised (4 → 3 added), no self-loop, sorted by destination
    const m = loadPlanetoid(dir, 'citeseer', { mergeDuplicateEdges: true });
    assert.deepEqual(m.edgeStats, { ...common, merged: true, messages: 8, isolatedNodes: 3, maxInDegree: 2, meanInDegree: 0.8 });
    assert.deepEqual(Array.from(m.src, (s, e) => `${s}->${m.dst[e]}`), ['1->0', '2->0', '0->1', '0->2', '4->3', '3->4', '9->6', '6->9']);
    const withLoops = loadPlanetoid(dir, 'citeseer', { mergeDuplicateEdges: true, keepSelfLoops: true });
    assert.ok(Array.from(withLoops.src, (s, e) => `${s}->${withLoops.dst[e]}`).includes('2->2'));
    assert.equal(withLoops.edgeStats.undirectedEdges, 4, 'a kept self-loop is not an undirected edge');

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

test('randomSplit is the authors\' split: numpy RandomState(seed).permutation of the labelled list, ⌊n·r⌋ / ⌊n·(0.5 − r)⌋ / rest', () => {
  // np.random.RandomState(0).permutation(10) = [2, 8, 4, 9, 1, 6, 7, 3, 0, 5]; r = 0.2: 2 train, int(10 · 0.3) = 3 val, 5 test
  const labelled = Int32Array.from([100, 101, 102, 103, 104, 105, 109, 106, 108, 107]);
  const s = randomSplit(labelled, 0.2, 0);
  assert.deepEqual(Array.from(s.train), [102, 108]);
  assert.deepEqual(Array.from(s.val), [101, 104, 107]); // labelled[4, 9, 1]
  assert.deepEqual(Array.from(s.test), [100, 103, 105, 106, 109]); // labelled[6, 7, 3, 0, 5]
  // 2708 labelled nodes, r = 0.01: 27 / int(2708 · 0.49) = 1326 / 1355 (a rounded split would give 1327)
  const c = randomSplit(Int32Array.from({ length: 2708 }, (_, i) => i), 0.01, 1234);
  assert.deepEqual([c.train.length, c.val.length, c.test.length], [27, 1326, 1355]);
  // sorted(np.random.RandomState(1234).permutation(2708)[:27])
  assert.deepEqual(Array.from(c.train), [59, 220, 298, 316, 464, 484, 702, 709, 924, 1276, 1439, 1446, 1477, 1525, 1603, 1685, 1726, 1882, 1914, 2078, 2173, 2195, 2252, 2275, 2280, 2287, 2297]);
  const all = [...c.train, ...c.val, ...c.test].sort((a, b) => a - b);
  assert.deepEqual(all, Array.from({ length: 2708 }, (_, i) => i), 'disjoint and covering');
  assert.notDeepEqual(Array.from(randomSplit(labelled, 0.2, 1).train), Array.from(s.train), 'another seed, another split');
  assert.throws(() => randomSplit(labelled, 0.5, 1), /train_ratio must be in \(0, 0\.5\)/);
  assert.throws(() => randomSplit(labelled, 0.05, 1), /no training node/);
  assert.throws(() => randomSplit(labelled, 0.2, 2 ** 32), /2\*\*32 - 1/);
  assert.deepEqual(classCounts([0, 1, 2, 5], Int32Array.from([2, 0, 2, 1, 1, -1]), 3), [1, 0, 2]);
});

test('the authors\' Cora split: 27 / 1326 / 1355 nodes, training classes [3, 1, 3, 12, 2, 3, 3]', { skip: SKIP }, () => {
  const d = loadPlanetoid(DATA as string, 'cora');
  const s = randomSplit(d.labelled, 0.01, 1234);
  // numpy (labelled list idx_all = allx rows then test.index; perm = np.random.RandomState(1234).permutation(2708)):
  // sorted(idx_all[perm[:27]]), and np.bincount(label[idx_all[...]]) for the three sets
  assert.deepEqual(Array.from(s.train), [59, 220, 298, 316, 464, 484, 702, 709, 924, 1276, 1439, 1446, 1477, 1525, 1603, 1685, 1924, 1994, 2028, 2066, 2136, 2140, 2265, 2266, 2291, 2458, 2602]);
  assert.deepEqual(classCounts(s.train, d.labels, 7), [3, 1, 3, 12, 2, 3, 3]);
  assert.deepEqual(classCounts(s.val, d.labels, 7), [169, 111, 214, 402, 197, 144, 89]);
  assert.deepEqual(classCounts(s.test, d.labels, 7), [179, 105, 201, 404, 227, 151, 88]);
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

test('Planetoid files that lie about shapes or indices are refused, naming the file, before anything is allocated from them', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-planetoid-'));
  const C = 3;
  // An instance of `object` whose attributes look like an array: shape (2, 3), 3 values.
  const fakeArray = pickle(
    cat('ccopy_reg\n_reconstructor\n(c__builtin__\nobject\nc__builtin__\nobject\nNtR}(', str('kind'), str('ndarray'), str('dtype'), str('i4'), str('shape'), '(', int(2), int(C), 't', str('data'), '](', int(1), int(0), int(0), 'eub'),
  );
  const wideCsr = pickle(cat('cscipy.sparse.csr\ncsr_matrix\n)\x81}(', str('_shape'), int(6), int(2 ** 30), '\x86', str('data'), pyNdarray('f4', [0], []), str('indices'), pyNdarray('i4', [0], []), str('indptr'), pyNdarray('i4', [7], [0, 0, 0, 0, 0, 0, 0]), 'ub'));
  const halfIndex = pickle(cat('cscipy.sparse.csr\ncsr_matrix\n)\x81}(', str('_shape'), int(3), int(4), '\x86', str('data'), pyNdarray('f4', [1], [1]), str('indices'), pyNdarray('f8', [1], [0.5]), str('indptr'), pyNdarray('i4', [4], [0, 1, 1, 1]), 'ub'));
  const floatNeighbour = pickle(cat('ccollections\ndefaultdict\nc__builtin__\nlist\n\x85R(', int(0), '](G\x3f\xf8\x00\x00\x00\x00\x00\x00eu'));
  // Mutant check: before, fakeArray was taken as y (labels of row 1 silently -1), the two large
  // test indices were wrapped (to 9) or allocated (2e9 feature rows), wideCsr allocated 6 GiB and
  // halfIndex wrote nothing (a typed array ignores index 1.5).
  const cases: [string, Buffer | string, RegExp][] = [
    ['y', fakeArray, /ind\.citeseer\.y: expected a numpy array or scipy csr_matrix, got an object/],
    ['test.index', '9\n4294967305\n8\n', /ind\.citeseer\.test\.index: line 2 is not a node index: '4294967305'/],
    ['test.index', '9\n2000000000\n8\n', /ind\.citeseer\.test\.index: node 2000000000 is out of range: allx has 6 rows and tx 3, so node indices end below 12/],
    ['test.index', '9\n3\n8\n', /ind\.citeseer\.test\.index: node 3 is one of the 6 allx nodes/],
    ['allx', wideCsr, /ind\.citeseer\.allx: a 6 × 1073741824 matrix is 24\.0 GiB as dense float32 \(at most 1 GiB\)/],
    ['tx', halfIndex, /ind\.citeseer\.tx: csr_matrix column index 0\.5 is not an integer in \[0, 4\)/],
    ['graph', pickle(pyAdjacency({ 0: [1], 1: [1000000000] })), /ind\.citeseer\.graph in .*: neighbour 1000000000 of node 1 is outside the 10 nodes/],
    ['graph', floatNeighbour, /ind\.citeseer\.graph: adjacency list of node 0 is not a list of integers/],
  ];
  try {
    for (const [suffix, content, msg] of cases) {
      writeSynthetic(dir);
      fs.writeFileSync(path.join(dir, `ind.citeseer.${suffix}`), content);
      assert.throws(() => loadPlanetoid(dir, 'citeseer'), (err: unknown) => {
        assert.ok(err instanceof PlanetoidError, `${suffix}: ${String(err)}`);
        assert.match(err.message, msg);
        return true;
      });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
