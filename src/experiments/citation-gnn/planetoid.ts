/**
 * Loader for the Planetoid citation data sets (Cora, CiteSeer, PubMed) in their original form:
 * `ind.<name>.{x,y,tx,ty,allx,ally,graph}` (Python-2 pickles, read by our safe pickle VM) and
 * `ind.<name>.test.index` (text). Mirrors the standard loader (Kipf & Welling's `load_data`):
 *
 *   features = vstack(allx, tx); features[test_idx_reorder] = features[sorted(test_idx_reorder)]
 *
 * which amounts to: row i < |allx| is allx[i]; the k-th test row tx[k] goes to node test.index[k].
 * CiteSeer's test indices have gaps (isolated nodes without features); those rows stay zero and
 * their label is -1 (standard loaders give them an all-zero one-hot label).
 */
import * as fs from 'fs';
import * as path from 'path';
import { loadPickle, toAdjacency, toDense2D, PickleError } from './pickle';
import { NumpyRandomState } from '../../core/numpyRandom';
import { PLANETOID_NAMES, planetoidFiles, type PlanetoidName } from '../catalog';

export { PLANETOID_NAMES, type PlanetoidName };

export interface EdgeStats {
  /** Entries in the adjacency lists, duplicates and self-loops included (Cora: 10,858). */
  adjacencyEntries: number;
  /** Distinct (node, neighbour) pairs in the lists as given (Cora: 10,556). */
  distinctDirected: number;
  /** Repeated entries (Cora: 302). */
  duplicates: number;
  /** Distinct self-loops in the lists. */
  selfLoops: number;
  /** Pairs listed one way only (symmetrising adds their reverses). */
  addedBySymmetrization: number;
  /** Undirected edges of the merged, symmetrised graph, self-loops excluded (Cora: 5,278). */
  undirectedEdges: number;
  /** Whether `src`/`dst` are the merged graph (else every adjacency entry, as the authors). */
  merged: boolean;
  /** Messages one propagation step sums: the length of `src`/`dst` (Cora: 10,858 as the authors, 10,556 merged). */
  messages: number;
  /** Nodes that receive no message. */
  isolatedNodes: number;
  /** Most messages into one node (Cora: 169 as the authors, 168 merged). */
  maxInDegree: number;
  meanInDegree: number;
}

export interface PlanetoidSplit {
  train: Int32Array;
  val: Int32Array;
  test: Int32Array;
}

export interface PlanetoidData {
  name: PlanetoidName;
  numNodes: number;
  numFeatures: number;
  numClasses: number;
  /** Dense row-major numNodes × numFeatures. */
  features: Float32Array;
  /** Class of each node; -1 where the data set gives none (CiteSeer's isolated test gaps). */
  labels: Int32Array;
  /** Messages src[e] → dst[e] (see `buildEdges`). */
  src: Int32Array;
  dst: Int32Array;
  /** The standard split: train = the first |y| nodes, val = the next 500, test = test.index sorted. */
  split: PlanetoidSplit;
  /**
   * The labelled nodes in the authors' order (`idx_all` of their dataset/citation.py): the |allx|
   * rows 0, 1, …, then test.index in file order. Their random split permutes this list.
   */
  labelled: Int32Array;
  /** Nodes whose rows were filled with zeros (gaps in test.index). */
  missingTestNodes: Int32Array;
  edgeStats: EdgeStats;
}

export interface PlanetoidOptions {
  /**
   * Merge repeated adjacency entries into one edge, symmetrise, drop self-loops (default false:
   * one message per entry, as the authors).
   */
  mergeDuplicateEdges?: boolean;
  /** With mergeDuplicateEdges: keep self-loops (default false: the GNN has its own state update). */
  keepSelfLoops?: boolean;
  /** Size of the standard validation set (default 500). */
  numVal?: number;
}

export class PlanetoidError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanetoidError';
  }
}

const HOW_TO_GET =
  'download ind.<name>.* from the Planetoid project (github.com/kimiyoung/planetoid, data/ folder) and point --data or the rbpLab.dataDir setting at that folder';

function readFile(dir: string, name: PlanetoidName, suffix: string): Buffer {
  const file = `ind.${name}.${suffix}`;
  const full = path.join(dir, file);
  if (!fs.existsSync(full)) {
    throw new PlanetoidError(`${file} not found in ${path.resolve(dir)}: ${HOW_TO_GET.replace('<name>', name)}`);
  }
  return fs.readFileSync(full);
}

export function parseTestIndex(text: string, file: string): Int32Array {
  const out: number[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const s = lines[i].trim();
    if (s === '') continue;
    // An integer that fits a node index: larger ones wrapped around in the Int32Array before.
    if (!/^\d{1,10}$/.test(s) || Number(s) > 2 ** 31 - 1) throw new PlanetoidError(`${file}: line ${i + 1} is not a node index: '${s.slice(0, 40)}'`);
    out.push(Number(s));
  }
  if (out.length === 0) throw new PlanetoidError(`${file}: no test indices`);
  return Int32Array.from(out);
}

/** Check that every listed file is present, without reading them. Returns the missing ones. */
export function missingPlanetoidFiles(dir: string, name: PlanetoidName): string[] {
  return planetoidFiles(name).filter((f) => !fs.existsSync(path.join(dir, f)));
}

function argmaxRows(data: Float32Array, rows: number, cols: number, out: Int32Array, outOffset: number, rowMap?: Int32Array): void {
  for (let r = 0; r < rows; r++) {
    let best = -1;
    let bestV = 0;
    for (let c = 0; c < cols; c++) {
      const v = data[r * cols + c];
      if (v > bestV) {
        bestV = v;
        best = c;
      }
    }
    out[rowMap ? rowMap[r] : outOffset + r] = best;
  }
}

export function loadPlanetoid(dir: string, name: PlanetoidName, opts: PlanetoidOptions = {}): PlanetoidData {
  if (!PLANETOID_NAMES.includes(name)) throw new PlanetoidError(`unknown Planetoid data set '${String(name)}' (expected ${PLANETOID_NAMES.join(', ')})`);
  if (!fs.existsSync(dir)) throw new PlanetoidError(`data folder ${path.resolve(dir)} does not exist: ${HOW_TO_GET.replace('<name>', name)}`);
  const missing = missingPlanetoidFiles(dir, name);
  if (missing.length > 0) throw new PlanetoidError(`${missing.join(', ')} not found in ${path.resolve(dir)}: ${HOW_TO_GET.replace('<name>', name)}`);

  // Every pickle problem (corrupt, over budget, unsafe, too large to allocate) names its file.
  const load = <T>(s: string, convert: (v: unknown, file: string) => T): T => {
    const file = `ind.${name}.${s}`;
    try {
      return convert(loadPickle(readFile(dir, name, s), file), file);
    } catch (err) {
      if (err instanceof PickleError) throw new PlanetoidError(`${err.message} (in ${path.resolve(dir)})`);
      if (err instanceof RangeError) throw new PlanetoidError(`${file} in ${path.resolve(dir)}: cannot allocate what it describes (${err.message})`);
      throw err;
    }
  };
  const y = load('y', toDense2D);
  const tx = load('tx', toDense2D);
  const ty = load('ty', toDense2D);
  const allx = load('allx', toDense2D);
  const ally = load('ally', toDense2D);
  const graph = load('graph', toAdjacency);
  const testFile = `ind.${name}.test.index`;
  const testIdx = parseTestIndex(readFile(dir, name, 'test.index').toString('utf8'), testFile);

  const F = allx.cols;
  const C = ally.cols;
  const where = (f: string): string => `ind.${name}.${f} in ${path.resolve(dir)}`;
  if (tx.cols !== F) throw new PlanetoidError(`${where('tx')} has ${tx.cols} feature columns but allx has ${F}`);
  if (ty.cols !== C || y.cols !== C) throw new PlanetoidError(`${where('ty')}/y have ${ty.cols}/${y.cols} classes but ally has ${C}`);
  if (ally.rows !== allx.rows) throw new PlanetoidError(`${where('ally')} has ${ally.rows} rows but allx has ${allx.rows}`);
  if (ty.rows !== tx.rows) throw new PlanetoidError(`${where('ty')} has ${ty.rows} rows but tx has ${tx.rows}`);
  if (testIdx.length !== tx.rows) throw new PlanetoidError(`${testFile} lists ${testIdx.length} nodes but tx has ${tx.rows} rows`);
  if (y.rows > allx.rows) throw new PlanetoidError(`${where('y')} has more rows (${y.rows}) than allx (${allx.rows})`);

  // Test nodes follow the allx nodes (the standard loader's assumption); gaps (CiteSeer's 15
  // isolated nodes) are allowed up to as many as there are test rows. Checked before anything is
  // allocated from them: one huge index made a features array of that many rows.
  let maxTest = 0;
  for (const t of testIdx) {
    if (t < allx.rows) throw new PlanetoidError(`${testFile}: node ${t} is one of the ${allx.rows} allx nodes, not a test node`);
    maxTest = Math.max(maxTest, t);
  }
  const maxNodes = allx.rows + 2 * tx.rows;
  if (maxTest >= maxNodes) throw new PlanetoidError(`${testFile}: node ${maxTest} is out of range: allx has ${allx.rows} rows and tx ${tx.rows}, so node indices end below ${maxNodes}`);
  const N = Math.max(allx.rows, maxTest + 1);
  for (const [i, list] of graph) {
    if (i < 0 || i >= N) throw new PlanetoidError(`${where('graph')}: node ${i} is outside the ${N} nodes with features`);
    for (const j of list) if (j < 0 || j >= N) throw new PlanetoidError(`${where('graph')}: neighbour ${j} of node ${i} is outside the ${N} nodes with features`);
  }

  // Features and labels.
  const features = new Float32Array(N * F);
  features.set(allx.data);
  const labels = new Int32Array(N).fill(-1);
  argmaxRows(ally.data, ally.rows, C, labels, 0);
  const seen = new Uint8Array(N);
  for (let k = 0; k < testIdx.length; k++) {
    const node = testIdx[k];
    if (seen[node]) throw new PlanetoidError(`${testFile}: node ${node} is listed twice`);
    seen[node] = 1;
    features.set(tx.data.subarray(k * F, (k + 1) * F), node * F);
  }
  argmaxRows(ty.data, ty.rows, C, labels, 0, testIdx);
  const missingTest: number[] = [];
  for (let i = allx.rows; i < N; i++) if (!seen[i]) missingTest.push(i);

  // Split.
  const numVal = opts.numVal ?? 500;
  const train = Int32Array.from({ length: y.rows }, (_, i) => i);
  const valEnd = Math.min(y.rows + numVal, allx.rows);
  const val = Int32Array.from({ length: valEnd - y.rows }, (_, i) => y.rows + i);
  const test = Int32Array.from(testIdx).sort();

  const labelled = Int32Array.from([...Array.from({ length: allx.rows }, (_, i) => i), ...testIdx]);
  const { src, dst, stats } = buildEdges(graph, N, { merge: opts.mergeDuplicateEdges ?? false, keepSelfLoops: opts.keepSelfLoops ?? false });
  return {
    name,
    numNodes: N,
    numFeatures: F,
    numClasses: C,
    features,
    labels,
    src,
    dst,
    split: { train, val, test },
    labelled,
    missingTestNodes: Int32Array.from(missingTest),
    edgeStats: stats,
  };
}

/**
 * The messages of the adjacency lists. As the authors (dataset/citation.py, model/gnn.py): every
 * entry j in the list of node i is one message i → j, in the lists' order, duplicates and
 * self-loops included, so a repeated entry is summed twice. With `merge`: each distinct pair once,
 * made symmetric (j → i and i → j), self-loops dropped unless `keepSelfLoops`, sorted by
 * destination then source. Cora's lists are symmetric without self-loops, so the two differ only
 * by its 302 repeated entries.
 */
export function buildEdges(graph: Map<number, number[]>, numNodes: number, opts: { merge?: boolean; keepSelfLoops?: boolean } = {}): { src: Int32Array; dst: Int32Array; stats: EdgeStats } {
  const key = (s: number, d: number): number => d * numNodes + s;
  const listed: number[] = [];
  const given = new Set<number>();
  for (const [i, list] of graph) {
    for (const j of list) {
      listed.push(key(i, j));
      given.add(key(i, j));
    }
  }
  let selfLoops = 0;
  const merged = new Set<number>();
  for (const k of given) {
    const s = k % numNodes;
    const d = (k - s) / numNodes;
    if (s === d) {
      selfLoops++;
      if (opts.keepSelfLoops) merged.add(k);
      continue;
    }
    merged.add(k);
    merged.add(key(d, s));
  }
  let added = 0;
  let loopsKept = 0;
  for (const k of merged) {
    if (!given.has(k)) added++;
    if (k % numNodes === (k - (k % numNodes)) / numNodes) loopsKept++;
  }
  const keys = opts.merge ? Float64Array.from(merged).sort() : listed;
  const src = new Int32Array(keys.length);
  const dst = new Int32Array(keys.length);
  const inDegree = new Int32Array(numNodes);
  for (let e = 0; e < keys.length; e++) {
    const s = keys[e] % numNodes;
    const d = (keys[e] - s) / numNodes;
    src[e] = s;
    dst[e] = d;
    inDegree[d]++;
  }
  let isolated = 0;
  let maxInDegree = 0;
  for (let i = 0; i < numNodes; i++) {
    if (inDegree[i] === 0) isolated++;
    maxInDegree = Math.max(maxInDegree, inDegree[i]);
  }
  return {
    src,
    dst,
    stats: {
      adjacencyEntries: listed.length,
      distinctDirected: given.size,
      duplicates: listed.length - given.size,
      selfLoops,
      addedBySymmetrization: added,
      undirectedEdges: (merged.size - loopsKept) / 2,
      merged: opts.merge ?? false,
      messages: keys.length,
      isolatedNodes: isolated,
      maxInDegree,
      meanInDegree: keys.length / numNodes,
    },
  };
}

/**
 * The authors' random split (dataset/citation.py, `use_rand_split`): numpy's
 * `RandomState(seed).permutation` of the labelled list, the first ⌊n·r⌋ for training, the next
 * ⌊n·(0.5 − r)⌋ for validation, the rest for testing (Cora, r = 0.01: 27 / 1326 / 1355). Each set
 * is returned sorted.
 */
export function randomSplit(labelled: Int32Array, trainRatio = 0.01, seed = 1234): PlanetoidSplit {
  if (!(trainRatio > 0 && trainRatio < 0.5)) throw new PlanetoidError(`dataset.train_ratio must be in (0, 0.5) for a random split (the rest is half validation, half test); got ${trainRatio}`);
  const n = labelled.length;
  const nTrain = Math.floor(n * trainRatio);
  const nVal = Math.floor(n * (0.5 - trainRatio));
  if (!(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff)) throw new PlanetoidError(`seed ${seed}: numpy's RandomState, which draws the authors' split, takes seeds in [0, 2**32 - 1]`);
  if (nTrain < 1) throw new PlanetoidError(`dataset.train_ratio ${trainRatio} of ${n} labelled nodes is no training node`);
  const perm = new NumpyRandomState(seed).permutation(n);
  const pick = (from: number, to: number) => Int32Array.from(perm.subarray(from, to), (k) => labelled[k]).sort();
  return { train: pick(0, nTrain), val: pick(nTrain, nTrain + nVal), test: pick(nTrain + nVal, n) };
}

/** How many nodes of each class a set holds (labels < 0 are not counted). */
export function classCounts(nodes: ArrayLike<number>, labels: Int32Array, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let k = 0; k < nodes.length; k++) {
    const y = labels[nodes[k]];
    if (y >= 0) counts[y]++;
  }
  return counts;
}
